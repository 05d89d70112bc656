import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachBackend, openTrailguard } from '../../test/helpers/backends.ts';
import { startHttpReceiver } from '../../test/helpers/receivers.ts';
import type { HttpReceiver } from '../../test/helpers/receivers.ts';
import { manualClock } from '../domain/clock.ts';
import type { Trailguard } from '../trailguard.ts';
import { startChangeChecks } from './change-check-schedule.ts';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const HOUR = 3_600_000;

forEachBackend('change alert rules', (backend) => {
  const clock = manualClock('2026-03-02T12:00:00Z');
  let tg: Trailguard;
  let hook: HttpReceiver;
  const ann = { id: 'u-ann', name: 'Ann' };
  const bob = { id: 'u-bob', name: 'Bob' };

  before(async () => {
    hook = await startHttpReceiver();
    tg = await openTrailguard(backend, {
      clock,
      geo: false,
      alerts: {
        sinks: [{ type: 'webhook', name: 'soc', url: hook.url }],
        delivery: { pollIntervalMs: 60_000 },
      },
    });
  });
  after(async () => {
    await tg.close();
    await hook.close();
  });

  const bodies = () => hook.requests.map((r) => JSON.parse(r.body) as { rule: string; key: string });

  it('alerts once on a critical change deployed without approval, and delivers it to the webhook', async () => {
    const unapproved = await tg.changes.log({
      changeType: 'deployment',
      title: 'Migrate billing DB',
      impactLevel: 'critical',
      performedBy: ann,
      deployedAt: new Date(clock.now().getTime() - 30 * 60_000),
    });
    // Not alerted: approved, not critical, or deployed before the lookback.
    await tg.changes.log({
      changeType: 'deployment',
      title: 'Approved critical',
      impactLevel: 'critical',
      performedBy: ann,
      approvedBy: bob,
    });
    await tg.changes.log({ changeType: 'deployment', title: 'Minor', impactLevel: 'low', performedBy: ann });
    await tg.changes.log({
      changeType: 'deployment',
      title: 'Old critical',
      impactLevel: 'critical',
      performedBy: ann,
      deployedAt: new Date(clock.now().getTime() - 3 * 24 * HOUR),
    });

    const r = await tg.alerts.checkChanges();
    assert.deepEqual(r, { criticalChangeUnapproved: 1, emergencyChangeUnapproved: 0 });
    await tg.alerts.flush();
    await hook.waitFor(1);
    const [body] = bodies();
    assert.equal(body?.rule, 'critical_change_unapproved');
    assert.equal(body?.key, unapproved.id);
    const [alert] = await tg.alerts.list({ rule: 'critical_change_unapproved' });
    assert.equal(alert?.severity, 'critical');
    assert.deepEqual(alert?.details['performedBy'], ann);

    // The next hourly check does not repeat it, even once the throttle window has passed.
    clock.advance(HOUR);
    assert.deepEqual(await tg.alerts.checkChanges(), {
      criticalChangeUnapproved: 0,
      emergencyChangeUnapproved: 0,
    });
  });

  it('alerts on an emergency change still unapproved after the 24 h grace period, not before, not once approved', async () => {
    const start = clock.now().getTime();
    const late = await tg.changes.log({
      changeType: 'security_update',
      title: 'Hotfix auth bypass',
      impactLevel: 'high',
      approvalStatus: 'emergency',
      performedBy: ann,
      deployedAt: new Date(start),
    });
    const reviewed = await tg.changes.log({
      changeType: 'security_update',
      title: 'Hotfix reviewed',
      impactLevel: 'high',
      approvalStatus: 'emergency',
      performedBy: ann,
      deployedAt: new Date(start),
    });
    clock.advance(23 * HOUR);
    assert.equal((await tg.alerts.checkChanges()).emergencyChangeUnapproved, 0);
    await tg.changes.approve(reviewed.id, { by: bob, note: 'reviewed after the fact' });
    clock.advance(2 * HOUR);
    assert.equal((await tg.alerts.checkChanges()).emergencyChangeUnapproved, 1);
    await tg.alerts.flush();
    await hook.waitFor(2);
    const last = bodies().at(-1);
    assert.equal(last?.rule, 'emergency_change_unapproved');
    assert.equal(last?.key, late.id);
    assert.equal((await tg.alerts.checkChanges()).emergencyChangeUnapproved, 0);
  });

  it('raises nothing for a disabled rule; the schedule still runs for the other change rule', async () => {
    const off = await openTrailguard(backend, {
      clock,
      geo: false,
      alerts: {
        sinks: [{ type: 'log' }],
        rules: { criticalChangeUnapproved: { enabled: false } },
        delivery: { enabled: false },
      },
    });
    try {
      await off.changes.log({
        changeType: 'deployment',
        title: 'x',
        impactLevel: 'critical',
        performedBy: ann,
      });
      assert.equal((await off.alerts.checkChanges()).criticalChangeUnapproved, 0);
      assert.equal(startChangeChecks(off.alerts, quiet).nextRun() !== null, true); // emergency rule still on
    } finally {
      await off.close();
    }
  });
});

describe('change check schedule', () => {
  it('is not scheduled when both change rules are off', async () => {
    const tg = await openTrailguard('pglite', {
      alerts: {
        rules: {
          criticalChangeUnapproved: { enabled: false },
          emergencyChangeUnapproved: { enabled: false },
        },
        delivery: { enabled: false },
      },
    });
    try {
      assert.equal(startChangeChecks(tg.alerts, quiet).nextRun(), null);
    } finally {
      await tg.close();
    }
  });
});
