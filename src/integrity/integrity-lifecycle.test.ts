import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { forEachBackend, openTrailguard } from '../../test/helpers/backends.ts';
import type { Trailguard } from '../trailguard.ts';

const DAY = 86_400_000;

// Retention and erasure change sealed rows on purpose: each files its changes as adjustments, so a
// verify afterwards is intact, and a change made behind their backs is still found.
forEachBackend('tamper evidence across retention and erasure', (backend) => {
  let tg: Trailguard;
  const ago = (days: number) => new Date(Date.now() - days * DAY);
  before(async () => {
    tg = await openTrailguard(backend, {
      geo: false,
      alerts: { delivery: { enabled: false } },
      integrity: { key: 'lifecycle-test-key-0123456789abcdef', settleSeconds: 0 },
    });
    // A whole month past every login period (dropped), a month partly past it (trimmed; the login
    // events still within their own period are copied out first), and the present.
    await tg.logins.record({
      username: 'liz@example.test',
      userId: 'liz',
      success: true,
      ip: '203.0.113.1',
      occurredAt: ago(400),
    });
    await tg.logins.record({
      username: 'liz@example.test',
      userId: 'liz',
      success: true,
      ip: '203.0.113.1',
      occurredAt: ago(120),
    });
    await tg.logins.record({
      username: 'liz@example.test',
      success: false,
      ip: '198.51.100.1',
      occurredAt: ago(120),
    });
    await tg.logins.record({
      username: 'max@example.test',
      userId: 'max',
      success: true,
      ip: '203.0.113.2',
      occurredAt: ago(120),
    });
    await tg.logins.record({ username: 'liz@example.test', userId: 'liz', success: true, ip: '203.0.113.1' });
    await tg.logins.record({ username: 'max@example.test', userId: 'max', success: true, ip: '203.0.113.2' });
    await tg.security.log('password_changed', {
      username: 'liz@example.test',
      userId: 'liz',
      ip: '203.0.113.1',
    });
    const change = await tg.changes.log({
      changeType: 'deployment',
      title: 'Old deploy',
      impactLevel: 'low',
      performedBy: { id: 'max', name: 'Max' },
      deployedAt: ago(400),
    });
    await tg.changes.log({
      changeType: 'configuration',
      title: 'Recent change',
      impactLevel: 'medium',
      performedBy: { id: 'liz', name: 'Liz' },
    });
    await tg.changes.approve(change.id, { by: { id: 'liz', name: 'Liz' } });
    await tg.logins.flush();
    await tg.security.flush();
    await tg.integrity.seal();
    assert.deepEqual((await tg.integrity.verify()).problems, []);
  });
  after(() => tg.close());

  it('stays intact after a retention run that drops, trims and copies out sealed rows', async () => {
    const receipt = await tg.retention.run();
    const methods = receipt.items.map((i) => `${i.table}:${i.method}`);
    assert.ok(methods.includes('login_history:drop_partition'), methods.join());
    assert.ok(methods.includes('login_history:batch_delete'), methods.join());
    assert.ok(
      methods.some((m) => m.startsWith('change_log:')),
      methods.join(),
    );
    const report = await tg.integrity.verify();
    assert.deepEqual(report.problems, []);
    assert.equal(report.ok, true);
  });

  it('stays intact after an erasure that deletes and pseudonymises sealed rows', async () => {
    const erased = await tg.privacy.erase('liz', { requestedBy: 'dpo', reason: 'GDPR-1' });
    assert.ok(erased.removed.logins > 0 && erased.pseudonymised.changeHistory > 0, JSON.stringify(erased));
    assert.deepEqual((await tg.integrity.verify()).problems, []);
  });

  it('still finds a change made behind their backs', async () => {
    await sql`UPDATE login_history SET username = 'forged@example.test' WHERE user_id = 'max'`.execute(
      tg.database.db,
    );
    const report = await tg.integrity.verify();
    assert.equal(report.ok, false);
    assert.ok(
      report.problems.some((p) => p.kind === 'range_mismatch' && p.stream === 'login_history'),
      JSON.stringify(report.problems),
    );
  });
});
