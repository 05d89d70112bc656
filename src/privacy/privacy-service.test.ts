import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachBackend, openTrailguard } from '../../test/helpers/backends.ts';
import type { Trailguard } from '../trailguard.ts';
import { sql } from 'kysely';
import { createPrivacyService, subjectHash } from './privacy-service.ts';
import type { PrivacyContributor } from './privacy-service.ts';
import { securityEventsPrivacy } from '../security/privacy.ts';

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

forEachBackend('privacy of users sharing a username', (backend) => {
  let tg: Trailguard;
  before(async () => {
    tg = await openTrailguard(backend, { geo: false, alerts: { delivery: { enabled: false } } });
    // Two people used the shared account "admin"; the second changed its password.
    await tg.logins.record({ username: 'admin', userId: 'u1', success: true, ip: '203.0.113.1' });
    await tg.logins.record({ username: 'admin', userId: 'u2', success: true, ip: '203.0.113.2' });
    await tg.security.log('password_changed', { username: 'admin', userId: 'u2', ip: '203.0.113.2' });
    await tg.logins.record({ username: 'admin', success: false, ip: '198.51.100.7' });
  });
  after(() => tg.close());

  it('neither exports nor erases rows that carry the other user’s id', async () => {
    const doc = await tg.privacy.export('u1');
    assert.deepEqual(
      doc.logins.map((l) => [l.userId, l.success]),
      [
        ['u1', true],
        [null, false],
      ],
    );
    assert.equal(JSON.stringify(doc.securityEvents).includes('u2'), false);
    const receipt = await tg.privacy.erase('u1', { requestedBy: 'dpo', reason: 'request' });
    // u1's login and its event, the attempt without a user id and its event.
    assert.deepEqual(receipt.removed, { logins: 2, securityEvents: 2, alerts: 0 });
    const left = await tg.security.events({ username: 'admin' });
    assert.deepEqual(left.items.map((e) => [e.type, e.userId]).sort(), [
      ['login_success', 'u2'],
      ['password_changed', 'u2'],
    ]);
  });
});

forEachBackend('privacy once retention removed the successful logins', (backend) => {
  let tg: Trailguard;
  before(async () => {
    tg = await openTrailguard(backend, { geo: false, alerts: { delivery: { enabled: false } } });
    await tg.logins.record({
      username: 'helen@example.test',
      userId: 'h1',
      success: true,
      ip: '203.0.113.1',
    });
    await tg.security.log('password_changed', {
      username: 'helen@example.test',
      userId: 'h1',
      ip: '203.0.113.1',
    });
    await tg.logins.record({ username: 'helen@example.test', success: false, ip: '198.51.100.9' });
    await tg.logins.record({ username: 'hal@example.test', success: false, ip: '198.51.100.9' });
    // Successful logins go first (90 days against 180 for failed ones by default).
    await sql`DELETE FROM login_history WHERE success`.execute(tg.database.db);
  });
  after(() => tg.close());

  it('still finds a username through the user’s security events', async () => {
    const doc = await tg.privacy.export('h1');
    assert.deepEqual(doc.usernames, ['helen@example.test']);
    assert.equal(doc.loginSummary.failed, 1);
  });

  it('takes the usernames the request names, and erases what they lead to', async () => {
    assert.equal((await tg.privacy.export('h2')).loginSummary.failed, 0);
    await assert.rejects(tg.privacy.export('h2', { usernames: [''] }), { field: 'usernames[0]' });
    const doc = await tg.privacy.export('h2', { usernames: ['hal@example.test'] });
    assert.deepEqual(doc.usernames, ['hal@example.test']);
    assert.equal(doc.loginSummary.failed, 1);
    const receipt = await tg.privacy.erase('h2', {
      requestedBy: 'dpo',
      reason: 'request',
      usernames: ['hal@example.test'],
    });
    assert.deepEqual(receipt.removed, { logins: 1, securityEvents: 1, alerts: 0 });
    assert.equal((await tg.logins.failed({ username: 'hal@example.test', hours: 24 })).length, 0);
  });
});

forEachBackend('privacy of alerts raised by detection', (backend) => {
  let tg: Trailguard;
  before(async () => {
    tg = await openTrailguard(backend, { geo: false, alerts: { delivery: { enabled: false } } });
    await tg.logins.record({
      username: 'alice@example.test',
      userId: 'a1',
      success: true,
      ip: '203.0.113.1',
    });
    // Failures from ten addresses: a distributed attack on her account, keyed by her username.
    for (let i = 1; i <= 10; i++) {
      await tg.logins.record({ username: 'alice@example.test', success: false, ip: `198.51.100.${i}` });
    }
    // And five from one address: brute force, keyed by the IP, naming her in its details.
    for (let i = 0; i < 5; i++) {
      await tg.logins.record({ username: 'alice@example.test', success: false, ip: '192.0.2.50' });
    }
    await tg.alerts.flush();
  });
  after(() => tg.close());

  it('exports and erases every alert naming the user, with its deliveries and throttle state', async () => {
    const rules = (await tg.alerts.list()).map((a) => a.rule).sort();
    const keys = (await tg.alerts.list()).map((a) => a.key);
    assert.ok(keys.includes('distributed_attack:alice@example.test'), keys.join());
    assert.ok(keys.includes('brute_force:192.0.2.50'), keys.join());
    const doc = await tg.privacy.export('a1');
    assert.equal(doc.alerts.length, rules.length);
    const db = tg.database.db;
    const count = async (table: 'alert' | 'alert_outbox' | 'alert_throttle') =>
      Number(
        (await sql<{ n: number }>`SELECT count(*)::int4 AS n FROM ${sql.table(table)}`.execute(db)).rows[0]
          ?.n,
      );
    assert.ok((await count('alert_outbox')) > 0);
    assert.ok((await count('alert_throttle')) > 0);
    const receipt = await tg.privacy.erase('a1', { requestedBy: 'dpo', reason: 'request' });
    assert.equal(receipt.removed.alerts, rules.length);
    assert.deepEqual(
      [await count('alert'), await count('alert_outbox'), await count('alert_throttle')],
      [0, 0, 0],
    );
  });
});

forEachBackend('privacy erasure that fails part-way', (backend) => {
  let tg: Trailguard;
  before(async () => {
    tg = await openTrailguard(backend, { geo: false, alerts: { delivery: { enabled: false } } });
    await tg.logins.record({ username: 'ivy@example.test', userId: 'i1', success: true, ip: '203.0.113.1' });
  });
  after(() => tg.close());

  it('changes nothing and writes no receipt', async () => {
    const failing: PrivacyContributor = {
      export: async () => ({}),
      erase: async () => {
        throw new Error('connection lost');
      },
    };
    const privacy = createPrivacyService({
      db: tg.database.db,
      clock: { now: () => new Date() },
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      contributors: [securityEventsPrivacy(), failing],
    });
    await assert.rejects(privacy.erase('i1', { requestedBy: 'dpo', reason: 'request' }), /connection lost/);
    const doc = await tg.privacy.export('i1');
    assert.equal(doc.logins.length, 1);
    assert.equal(doc.securityEvents.length, 1);
    assert.deepEqual(await tg.privacy.receipts({ userId: 'i1' }), []);
  });
});
