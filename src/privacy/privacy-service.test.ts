import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachBackend, openTrailguard } from '../../test/helpers/backends.ts';
import type { Trailguard } from '../trailguard.ts';
import { subjectHash } from './privacy-service.ts';

forEachBackend('privacy export and erasure', (backend) => {
  let tg: Trailguard;
  before(async () => {
    tg = await openTrailguard(backend, { geo: false, alerts: { delivery: { enabled: false } } });
    const at = (m: number) => new Date(Date.UTC(2026, 2, 1, 10, m));
    await tg.logins.record({
      username: 'ann@example.test',
      userId: 42,
      success: true,
      ip: '203.0.113.1',
      occurredAt: at(0),
      sessionKey: 'secret-session',
    });
    // Failed attempts against her username without a user id are hers too.
    for (const m of [1, 2, 3]) {
      await tg.logins.record({
        username: 'ann@example.test',
        success: false,
        ip: '198.51.100.9',
        occurredAt: at(m),
      });
    }
    await tg.logins.record({
      username: 'ben@example.test',
      userId: 7,
      success: true,
      ip: '203.0.113.2',
      occurredAt: at(4),
    });
    await tg.alerts.flush();
  });
  after(() => tg.close());

  it('exports the user’s login history, including failed attempts against their username', async () => {
    const doc = await tg.privacy.export(42);
    assert.equal(doc.userId, '42');
    assert.deepEqual(doc.usernames, ['ann@example.test']);
    assert.deepEqual(doc.loginSummary, { total: 4, successful: 1, failed: 3 });
    assert.ok(doc.logins.every((l) => l.username === 'ann@example.test'));
    assert.equal(JSON.stringify(doc).includes('secret-session'), false);
  });

  it('returns an empty document for an unknown user', async () => {
    const doc = await tg.privacy.export('nobody');
    assert.deepEqual(doc.logins, []);
    assert.deepEqual(doc.securityEvents, []);
    assert.deepEqual(doc.changes, []);
    assert.equal(doc.loginSummary.total, 0);
  });

  it('requires who asked and why', async () => {
    await assert.rejects(tg.privacy.erase(42, { requestedBy: '', reason: 'x' }), {
      code: 'VALIDATION_FAILED',
      field: 'requestedBy',
    });
    await assert.rejects(tg.privacy.erase(42, { requestedBy: 'dpo' } as never), { field: 'reason' });
    assert.equal((await tg.privacy.export(42)).logins.length, 4);
  });

  it('erases the user’s logins and alerts naming them, keeps other users and the aggregates, and writes a receipt', async () => {
    assert.equal((await tg.alerts.list()).length, 1);
    const receipt = await tg.privacy.erase(42, { requestedBy: 'dpo@example.test', reason: 'GDPR-123' });
    // Security events: the login_success and three login_failed events of her logins.
    assert.deepEqual(receipt.removed, { logins: 4, securityEvents: 4, alerts: 1 });
    assert.equal(receipt.subject, subjectHash('42'));
    assert.equal(receipt.nothingLeft, false);
    assert.equal((await tg.privacy.export(42)).logins.length, 0);
    assert.equal((await tg.privacy.export(7)).logins.length, 1);
    const stats = await tg.logins.stats({ from: '2026-03-01T00:00:00Z', to: '2026-03-02T00:00:00Z' });
    assert.equal(stats.total, 5);
    const [stored] = await tg.privacy.receipts({ userId: 42 });
    assert.equal(stored?.id, receipt.id);
    assert.equal(JSON.stringify(stored).includes('ann@example.test'), false);
  });

  it('is idempotent: a second erasure reports nothing left', async () => {
    const receipt = await tg.privacy.erase('42', {
      requestedBy: 'dpo@example.test',
      reason: 'GDPR-123 again',
    });
    assert.equal(receipt.nothingLeft, true);
    assert.deepEqual(receipt.removed, { logins: 0, securityEvents: 0, alerts: 0 });
    assert.equal((await tg.privacy.receipts({ userId: 42 })).length, 2);
  });

  it('erasing an unknown user is not an error', async () => {
    const receipt = await tg.privacy.erase('ghost', { requestedBy: 'dpo', reason: 'request' });
    assert.equal(receipt.nothingLeft, true);
  });
});

forEachBackend('privacy of security events', (backend) => {
  let tg: Trailguard;
  before(async () => {
    tg = await openTrailguard(backend, { geo: false, alerts: { delivery: { enabled: false } } });
    await tg.logins.record({ username: 'eve@example.test', userId: 'e1', success: true, ip: '203.0.113.1' });
    await tg.security.permissionDenied({
      userId: 'e1',
      resource: 'invoice:1',
      action: 'read',
      ip: '203.0.113.1',
    });
    await tg.security.log('password_changed', { username: 'eve@example.test', ip: '203.0.113.1' });
    await tg.security.log('password_changed', { username: 'other@example.test', ip: '203.0.113.2' });
  });
  after(() => tg.close());

  it('exports and erases the user’s security events, by id and by username', async () => {
    const doc = await tg.privacy.export('e1');
    // login_success (from the login), permission_denied, password_changed
    assert.equal(doc.securityEvents.length, 3);
    const receipt = await tg.privacy.erase('e1', { requestedBy: 'dpo', reason: 'request' });
    assert.equal(receipt.removed.securityEvents, 3);
    assert.deepEqual((await tg.privacy.export('e1')).securityEvents, []);
    const rest = await tg.database.db.selectFrom('security_events').select('username').execute();
    assert.deepEqual(
      rest.map((r) => r.username),
      ['other@example.test'],
    );
  });
});
