import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, forEachBackend, openTrailguard } from '../../test/helpers/backends.ts';
import type { BackendName } from '../../test/helpers/backends.ts';
import { closedPort, startHttpReceiver, startSmtpReceiver } from '../../test/helpers/receivers.ts';
import type { HttpReceiver, SmtpReceiver } from '../../test/helpers/receivers.ts';
import { manualClock } from '../domain/clock.ts';
import { createTrailguard } from '../trailguard.ts';
import type { Trailguard } from '../trailguard.ts';
import { resolveAlertsConfig } from './alert-config.ts';
import { backoffDelay } from './alert-service.ts';
import { verifyWebhookSignature } from './sinks.ts';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const SECRET = 'whsec-test-secret';

describe('alert configuration', () => {
  it('refuses a webhook that is not http(s), naming the key', () => {
    assert.throws(() => resolveAlertsConfig({ sinks: [{ type: 'webhook', url: 'ftp://x' }] }), {
      code: 'CONFIG_INVALID',
      field: 'alerts.sinks[0].url',
    });
  });
  it('refuses a rule that names an unknown sink', () => {
    assert.throws(() => resolveAlertsConfig({ rules: { failedLoginBurst: { sinks: ['pager'] } } }), {
      field: 'alerts.rules.failedLoginBurst.sinks[0]',
    });
  });
  it('backs off exponentially, capped, and lets Retry-After decide when given', () => {
    const d = { initialDelayMs: 1000, maxDelayMs: 10_000 };
    assert.equal(
      backoffDelay(1, d, undefined, () => 0.5),
      1000,
    );
    assert.equal(
      backoffDelay(3, d, undefined, () => 0.5),
      4000,
    );
    assert.equal(
      backoffDelay(10, d, undefined, () => 0.5),
      10_000,
    );
    assert.equal(backoffDelay(1, d, 7000), 7000);
    assert.equal(backoffDelay(1, d, 60_000), 10_000);
  });
});

forEachBackend('alerts', (backend) => {
  describe('failed-login burst delivered to webhook, Slack and e-mail', () => {
    const clock = manualClock('2026-03-01T10:00:00Z');
    let tg: Trailguard;
    let hook: HttpReceiver;
    let slack: HttpReceiver;
    let smtp: SmtpReceiver;

    before(async () => {
      [hook, slack, smtp] = await Promise.all([
        startHttpReceiver(),
        startHttpReceiver(),
        startSmtpReceiver(),
      ]);
      tg = await openTrailguard(backend, {
        clock,
        geo: false,
        alerts: {
          sinks: [
            { type: 'webhook', name: 'soc', url: hook.url, secret: SECRET },
            { type: 'slack', url: slack.url },
            {
              type: 'email',
              smtp: { host: '127.0.0.1', port: smtp.port },
              from: 'trailguard@example.test',
              to: ['oncall@example.test'],
            },
            { type: 'log' },
          ],
          // Detection signals (brute force from the one test IP) are covered in their own suite.
          rules: { detectionSignal: { enabled: false } },
          delivery: { pollIntervalMs: 60_000, initialDelayMs: 1000 },
        },
      });
    });
    after(async () => {
      await tg.close();
      await Promise.all([hook.close(), slack.close(), smtp.close()]);
    });

    const fail = (username: string) =>
      tg.logins.record({ username, success: false, failureReason: 'invalid_password', ip: '198.51.100.7' });

    it('stays quiet below three failures in five minutes', async () => {
      await fail('mallory@example.test');
      clock.advance(60_000);
      await fail('mallory@example.test');
      await tg.alerts.flush();
      assert.deepEqual(await tg.alerts.list(), []);
    });

    it('raises one alert at the third failure and delivers it to every sink', async () => {
      clock.advance(60_000);
      await fail('mallory@example.test');
      await tg.alerts.flush();
      const [alert, ...rest] = await tg.alerts.list();
      assert.equal(rest.length, 0);
      assert.ok(alert);
      assert.equal(alert.rule, 'failed_login_burst');
      assert.equal(alert.key, 'mallory@example.test');
      assert.equal(alert.details['count'], 3);
      await Promise.all([hook.waitFor(1), slack.waitFor(1), smtp.waitFor(1)]);
      const deliveries = await tg.alerts.deliveries({ alertId: alert.id });
      assert.deepEqual(deliveries.map((d) => [d.sink, d.status]).sort(), [
        ['email', 'delivered'],
        ['log', 'delivered'],
        ['slack', 'delivered'],
        ['soc', 'delivered'],
      ]);
    });

    it('signs the webhook body so the receiver can verify it', () => {
      const req = hook.requests[0]!;
      const header = req.headers['x-trailguard-signature'] as string;
      assert.ok(verifyWebhookSignature(SECRET, header, req.body, { now: clock.now() }));
      assert.equal(verifyWebhookSignature('other-secret', header, req.body, { now: clock.now() }), false);
      assert.equal(
        verifyWebhookSignature(SECRET, header, req.body.replace('mallory', 'trudy'), { now: clock.now() }),
        false,
      );
      const body = JSON.parse(req.body) as { rule: string; key: string };
      assert.equal(body.rule, 'failed_login_burst');
      assert.equal(req.headers['x-trailguard-delivery'] !== undefined, true);
    });

    it('sends Slack a text message and e-mail to the configured recipients', () => {
      const text = (JSON.parse(slack.requests[0]!.body) as { text: string }).text;
      assert.match(text, /Multiple failed login attempts for mallory@example\.test/);
      const mail = smtp.messages[0]!;
      assert.deepEqual(mail.to, ['oncall@example.test']);
      assert.match(mail.raw, /Subject: \[Trailguard\] warning: Multiple failed login attempts/);
    });

    it('suppresses further alerts for the same username within the window and reports the count later', async () => {
      await fail('mallory@example.test');
      await fail('mallory@example.test');
      await tg.alerts.flush();
      assert.equal((await tg.alerts.list()).length, 1);
      clock.advance(15 * 60_000 + 1000);
      await fail('mallory@example.test');
      await fail('mallory@example.test');
      await fail('mallory@example.test');
      await tg.alerts.flush();
      const [latest] = await tg.alerts.list();
      assert.equal(latest?.suppressed, 2);
      assert.equal((await tg.alerts.list()).length, 2);
    });

    it('counts failures per username, not across usernames', async () => {
      await fail('a@example.test');
      await fail('b@example.test');
      await fail('c@example.test');
      await tg.alerts.flush();
      assert.deepEqual(
        (await tg.alerts.list()).map((a) => a.key),
        ['mallory@example.test', 'mallory@example.test'],
      );
    });

    it('counts a concurrent burst inside an open window as suppressed, and stores the count', async () => {
      const suppressed = async () =>
        Number(
          (
            await tg.database.db
              .selectFrom('alert_throttle')
              .select('suppressed')
              .where('rule', '=', 'failed_login_burst')
              .where('alert_key', '=', 'mallory@example.test')
              .executeTakeFirstOrThrow()
          ).suppressed,
        );
      const alertsBefore = (await tg.alerts.list()).length;
      const before = await suppressed();
      // mallory's window, opened above, is still open.
      await Promise.all(Array.from({ length: 40 }, () => fail('mallory@example.test')));
      await tg.alerts.flush();
      assert.equal((await tg.alerts.list()).length, alertsBefore);
      assert.equal(await suppressed(), before + 40);
    });

    it('retries a failed webhook after the Retry-After the receiver asked for', async () => {
      hook.script.push({ status: 503, headers: { 'retry-after': '120' } });
      const before = hook.requests.length;
      const alert = await tg.alerts.raise({
        rule: 'custom_check',
        key: 'k1',
        severity: 'error',
        title: 'Custom',
        sinks: ['soc'],
      });
      assert.ok(alert);
      await tg.alerts.flush();
      await hook.waitFor(before + 1);
      let [d] = await tg.alerts.deliveries({ alertId: alert.id });
      assert.equal(d?.status, 'pending');
      assert.equal(d?.lastError, 'HTTP 503');
      assert.equal(d!.nextAttemptAt.getTime() - clock.now().getTime(), 120_000);
      clock.advance(119_000);
      assert.equal(await tg.alerts.deliverDue(), 0);
      clock.advance(2000);
      assert.equal(await tg.alerts.deliverDue(), 1);
      [d] = await tg.alerts.deliveries({ alertId: alert.id });
      assert.equal(d?.status, 'delivered');
      assert.equal(d?.attempts, 2);
    });
  });

  describe('unreachable sinks', () => {
    let tg: Trailguard;
    before(async () => {
      const [httpPort, smtpPort] = [await closedPort(), await closedPort()];
      tg = await openTrailguard(backend, {
        geo: false,
        alerts: {
          sinks: [
            { type: 'webhook', url: `http://127.0.0.1:${httpPort}/hook` },
            {
              type: 'email',
              smtp: { host: '127.0.0.1', port: smtpPort },
              from: 'a@example.test',
              to: 'b@example.test',
            },
          ],
          delivery: { pollIntervalMs: 60_000, maxAttempts: 2, initialDelayMs: 60_000, timeoutMs: 2000 },
        },
      });
    });
    after(() => tg.close());

    it('never blocks the login that triggered the alert, and keeps the delivery for a retry', async () => {
      for (let i = 0; i < 3; i++) {
        const r = await tg.logins.record({ username: 'victim', success: false, ip: '198.51.100.8' });
        assert.equal(r.success, false);
      }
      await tg.alerts.flush();
      const [alert] = await tg.alerts.list();
      assert.ok(alert);
      const deliveries = await tg.alerts.deliveries({ alertId: alert.id });
      assert.equal(deliveries.length, 2);
      for (const d of deliveries) {
        assert.equal(d.status, 'pending');
        assert.equal(d.attempts, 1);
        assert.match(d.lastError ?? '', /ECONNREFUSED/);
      }
    });
  });

  describe('delivery across a restart', () => {
    let hook: HttpReceiver;
    let location: { options: { databaseUrl: string } | { dataDir: string }; cleanup(): Promise<void> };
    before(async () => {
      hook = await startHttpReceiver();
      location = await persistentLocation(backend);
    });
    after(async () => {
      await hook.close();
      await location.cleanup();
    });

    it('delivers an alert raised before the restart once the next process starts', async () => {
      const sinks = [{ type: 'webhook' as const, url: hook.url }];
      const first = await createTrailguard({
        ...location.options,
        logger: quiet,
        geo: false,
        alerts: { sinks, delivery: { enabled: false } },
      });
      const alert = await first.alerts.raise({
        rule: 'restart_check',
        key: 'x',
        severity: 'critical',
        title: 'Before restart',
      });
      await first.close();
      assert.equal(hook.requests.length, 0);

      const second = await createTrailguard({
        ...location.options,
        logger: quiet,
        geo: false,
        alerts: { sinks },
      });
      try {
        await hook.waitFor(1);
        assert.equal((JSON.parse(hook.requests[0]!.body) as { id: string }).id, alert?.id);
      } finally {
        await second.close();
      }
    });
  });
});

async function persistentLocation(
  backend: BackendName,
): Promise<{ options: { databaseUrl: string } | { dataDir: string }; cleanup(): Promise<void> }> {
  if (backend === 'postgres') {
    const db = await createTestDatabase();
    return { options: { databaseUrl: db.url }, cleanup: () => db.drop() };
  }
  const dir = mkdtempSync(join(tmpdir(), 'tg-alerts-'));
  return { options: { dataDir: dir }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
}

forEachBackend('detection alerts', (backend) => {
  let tg: Trailguard;
  before(async () => {
    tg = await openTrailguard(backend, { geo: false, alerts: { delivery: { enabled: false } } });
  });
  after(() => tg.close());

  it('raises a detection_signal alert when a login trips brute-force detection', async () => {
    for (let i = 0; i < 5; i++) {
      await tg.logins.record({ username: `user${i}@example.test`, success: false, ip: '192.0.2.66' });
    }
    await tg.alerts.flush();
    const alerts = await tg.alerts.list({ rule: 'detection_signal' });
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0]?.severity, 'critical');
    assert.match(alerts[0]?.key ?? '', /^brute_force:/);
  });
});

// An alert storm: many keys crossing a threshold in the same moment share transactions. Each key still
// gets exactly one alert per window and every further raise is counted, also when two processes on one
// database raise the same keys at once, in opposite orders.
forEachBackend('alert storm', (backend) => {
  const clock = manualClock('2026-03-01T10:00:00Z');
  let loc: Awaited<ReturnType<typeof persistentLocation>>;
  const instances: Trailguard[] = [];
  before(async () => {
    loc = await persistentLocation(backend);
    const open = () =>
      createTrailguard({
        ...loc.options,
        clock,
        geo: false,
        logger: quiet,
        securityLog: { enabled: false },
        alerts: { sinks: [{ type: 'log' }], delivery: { enabled: false } },
      });
    instances.push(await open());
    // PGlite is one process's database; a second process needs PostgreSQL.
    if (backend === 'postgres') instances.push(await open());
  });
  after(async () => {
    for (const tg of instances) await tg.close();
    await loc.cleanup();
  });

  it('gives each key one alert per window and counts every other raise', async () => {
    const keys = Array.from({ length: 300 }, (_, i) => `storm-${String(i).padStart(3, '0')}`);
    const raise = (tg: Trailguard, key: string) =>
      tg.alerts.raise({ rule: 'storm', key, severity: 'warning', title: `storm ${key}` });
    // Three raises per key from each instance, the second instance walking the keys backwards.
    const results = await Promise.all(
      instances.flatMap((tg, n) =>
        [1, 2, 3].flatMap(() => (n === 0 ? keys : [...keys].reverse()).map((k) => raise(tg, k))),
      ),
    );
    const raised = results.filter((a) => a !== null);
    assert.equal(raised.length, keys.length);
    assert.deepEqual([...new Set(raised.map((a) => a?.key))].sort(), keys);
    for (const tg of instances) await tg.alerts.flush();
    const db = instances[0]!.database.db;
    const stored = await db.selectFrom('alert').select(['alert_key']).where('rule', '=', 'storm').execute();
    assert.equal(stored.length, keys.length);
    const throttle = await db
      .selectFrom('alert_throttle')
      .select(['alert_key', 'suppressed'])
      .where('rule', '=', 'storm')
      .execute();
    assert.equal(throttle.length, keys.length);
    const perKey = 3 * instances.length - 1;
    for (const t of throttle) assert.equal(Number(t.suppressed), perKey, t.alert_key);
    const outbox = await db.selectFrom('alert_outbox').select('alert_id').execute();
    assert.equal(outbox.length, keys.length);

    // Once the window has closed, the next raise opens a new one carrying the count.
    clock.advance(16 * 60_000);
    const next = await raise(instances[0]!, 'storm-000');
    assert.equal(next?.suppressed, perKey);
  });
});

forEachBackend('alerts and lone surrogates', (backend) => {
  let tg: Trailguard;
  before(async () => {
    tg = await openTrailguard(backend, {
      clock: manualClock('2026-03-01T10:00:00Z'),
      geo: false,
      securityLog: { enabled: false },
      alerts: { sinks: [{ type: 'log' }], delivery: { enabled: false } },
    });
  });
  after(() => tg.close());

  it('a username with a lone surrogate in the same batch does not suppress another account’s burst alert', async () => {
    const fail = (username: string) =>
      tg.logins.record({ username, success: false, failureReason: 'invalid_password', ip: '198.51.100.8' });
    const [poison] = await Promise.all([
      fail('x\ud800'),
      ...[1, 2, 3, 4].map(() => fail('victim@example.test')),
    ]);
    assert.equal(poison?.username, 'x\ufffd');
    await tg.alerts.flush();
    const keys = (await tg.alerts.list()).map((a) => a.key);
    assert.ok(keys.includes('victim@example.test'), `alerts: ${JSON.stringify(keys)}`);
  });
});
