import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { forEachBackend, openTrailguard } from '../../../test/helpers/backends.ts';
import { startServer } from '../../../test/http/helpers.ts';
import type { TestServer } from '../../../test/http/helpers.ts';
import type { Trailguard } from '../../trailguard.ts';

forEachBackend('admin integrity endpoint', (backend) => {
  let tg: Trailguard;
  let server: TestServer;
  let head = '';
  before(async () => {
    tg = await openTrailguard(backend, {
      geo: false,
      alerts: { delivery: { enabled: false } },
      integrity: { key: 'http-integrity-key-0123456789', settleSeconds: 0 },
    });
    server = await startServer(tg);
    await tg.logins.record({ username: 'zoe@example.test', userId: 'z1', success: true, ip: '203.0.113.4' });
    await tg.logins.flush();
    await sleep(3);
    const sealed = await tg.integrity.seal();
    head = `${sealed.head?.seq}:${sealed.head?.hash}`;
  });
  after(async () => {
    await server.close();
    await tg.close();
  });

  it('reports an intact trail to an admin key and refuses a read key', async () => {
    const ok = await server.call('GET', `/api/v1/admin/integrity?expectHead=${head}`, {
      key: server.keys.admin,
    });
    assert.equal(ok.status, 200);
    const body = ok.body as { ok: boolean; streams: { login_history: { rowsChecked: number } } };
    assert.equal(body.ok, true);
    assert.equal(body.streams.login_history.rowsChecked, 1);
    const denied = await server.call('GET', '/api/v1/admin/integrity', { key: server.keys.read });
    assert.equal(denied.status, 403);
    const bad = await server.call('GET', '/api/v1/admin/integrity?stream=alert', { key: server.keys.admin });
    assert.equal(bad.status, 400);
  });

  it('answers ok: false with the located problem after a sealed row was changed', async () => {
    await sql`UPDATE login_history SET username = 'eve@example.test'`.execute(tg.database.db);
    const r = await server.call('GET', '/api/v1/admin/integrity?stream=login_history', {
      key: server.keys.admin,
    });
    assert.equal(r.status, 200);
    const body = r.body as {
      ok: boolean;
      problems: { kind: string; stream: string; range: { from: string } }[];
    };
    assert.equal(body.ok, false);
    assert.equal(body.problems[0]?.kind, 'range_mismatch');
    assert.equal(body.problems[0]?.stream, 'login_history');
    assert.ok(body.problems[0]?.range.from);
  });
});
