/**
 * The detection_degraded rule end to end: a private redis-server is killed, the detector falls back to
 * in-process state, and the alert reaches a real HTTP receiver. Needs TRAILGUARD_TEST_REDIS_URL (the
 * suite uses its own redis-server, never the shared one; the variable only says Redis is available).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { REDIS_SKIP, openTrailguard } from '../../test/helpers/backends.ts';
import { startHttpReceiver } from '../../test/helpers/receivers.ts';
import type { HttpReceiver } from '../../test/helpers/receivers.ts';
import { startPrivateRedis } from '../../test/helpers/redis-server.ts';
import type { PrivateRedis } from '../../test/helpers/redis-server.ts';
import type { Trailguard } from '../trailguard.ts';

describe('detection_degraded alert', { skip: REDIS_SKIP }, () => {
  let server: PrivateRedis;
  let hook: HttpReceiver;
  let tg: Trailguard;

  before(async () => {
    [server, hook] = await Promise.all([startPrivateRedis(), startHttpReceiver()]);
    tg = await openTrailguard('pglite', {
      geo: false,
      redisUrl: server.url,
      detection: { redisTimeoutMs: 100, keyPrefix: `tg-degraded-${randomBytes(4).toString('hex')}:` },
      alerts: {
        sinks: [{ type: 'webhook', name: 'soc', url: hook.url }],
        rules: { failedLoginBurst: { enabled: false }, detectionSignal: { enabled: false } },
        delivery: { pollIntervalMs: 60_000 },
      },
    });
  });
  after(async () => {
    await tg.close();
    await Promise.all([server.stop(), hook.close()]);
  });

  const fail = () => tg.logins.record({ username: 'outage@example.test', success: false, ip: '192.0.2.9' });

  it('raises nothing while Redis is up', async () => {
    await fail();
    await tg.alerts.flush();
    assert.deepEqual(await tg.alerts.list({ rule: 'detection_degraded' }), []);
  });

  it('delivers a detection_degraded alert when Redis dies, and the login is still recorded', async () => {
    await server.kill();
    await fail();
    await tg.alerts.flush();
    await hook.waitFor(1);
    const body = JSON.parse(hook.requests[0]!.body) as { rule: string; key: string; severity: string };
    assert.equal(body.rule, 'detection_degraded');
    assert.equal(body.key, 'redis');
    assert.equal(body.severity, 'error');
    const logins = await tg.database.db.selectFrom('login_history').select('id').execute();
    assert.equal(logins.length, 2);
  });
});
