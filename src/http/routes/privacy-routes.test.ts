import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachBackend, openTrailguard } from '../../../test/helpers/backends.ts';
import { startServer } from '../../../test/http/helpers.ts';
import type { TestServer } from '../../../test/http/helpers.ts';
import type { Trailguard } from '../../trailguard.ts';

forEachBackend('admin privacy endpoints', (backend) => {
  let tg: Trailguard;
  let server: TestServer;
  before(async () => {
    tg = await openTrailguard(backend, { geo: false, alerts: { delivery: { enabled: false } } });
    server = await startServer(tg);
    await tg.logins.record({ username: 'zoe@example.test', userId: 'z1', success: true, ip: '203.0.113.4' });
    // Attempts against usernames that nothing links to a user id.
    await tg.logins.record({ username: 'yan@example.test', success: false, ip: '198.51.100.4' });
    await tg.logins.record({ username: 'yan.old@example.test', success: false, ip: '198.51.100.4' });
  });
  after(async () => {
    await server.close();
    await tg.close();
  });

  it('exports a user for an admin key and refuses a read key', async () => {
    const ok = await server.call('GET', '/api/v1/admin/privacy/users/z1', { key: server.keys.admin });
    assert.equal(ok.status, 200);
    assert.equal((ok.body as { logins: unknown[] }).logins.length, 1);
    const denied = await server.call('GET', '/api/v1/admin/privacy/users/z1', { key: server.keys.read });
    assert.equal(denied.status, 403);
  });

  it('erases a user with a reason and returns the receipt', async () => {
    const r = await server.call('POST', '/api/v1/admin/privacy/users/z1/erase', {
      key: server.keys.admin,
      json: { reason: 'GDPR-9' },
    });
    assert.equal(r.status, 200);
    assert.equal((r.body as { removed: { logins: number } }).removed.logins, 1);
    const again = await server.call('POST', '/api/v1/admin/privacy/users/z1/erase', {
      key: server.keys.admin,
      json: { reason: 'GDPR-9' },
    });
    assert.equal((again.body as { nothingLeft: boolean }).nothingLeft, true);
  });

  it('takes the usernames the request names, one or several', async () => {
    const one = await server.call('GET', '/api/v1/admin/privacy/users/y1?username=yan%40example.test', {
      key: server.keys.admin,
    });
    assert.equal(one.status, 200);
    assert.deepEqual((one.body as { usernames: string[] }).usernames, ['yan@example.test']);
    const two = await server.call(
      'GET',
      '/api/v1/admin/privacy/users/y1?username=yan%40example.test&username=yan.old%40example.test',
      { key: server.keys.admin },
    );
    assert.equal((two.body as { logins: unknown[] }).logins.length, 2);
    const bad = await server.call('POST', '/api/v1/admin/privacy/users/y1/erase', {
      key: server.keys.admin,
      json: { reason: 'GDPR-10', usernames: [''] },
    });
    assert.equal(bad.status, 400);
    const erased = await server.call('POST', '/api/v1/admin/privacy/users/y1/erase', {
      key: server.keys.admin,
      json: { reason: 'GDPR-10', usernames: ['yan@example.test', 'yan.old@example.test'] },
    });
    assert.equal((erased.body as { removed: { logins: number } }).removed.logins, 2);
  });
});
