/**
 * A Redis outage never blocks or fails a login: against a real redis-server (a private child process
 * on its own port) that is killed, restarted and frozen.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { isTrailguardError } from '../../src/domain/errors.ts';
import { createDetector } from '../../src/detect/index.ts';
import type { Detector } from '../../src/detect/index.ts';
import { REDIS_SKIP } from '../helpers/backends.ts';
import { startPrivateRedis } from '../helpers/redis-server.ts';
import type { PrivateRedis } from '../helpers/redis-server.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => Promise<boolean>, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await sleep(50);
  }
}

describe('detection when Redis fails', { skip: REDIS_SKIP }, () => {
  let server: PrivateRedis;
  let detector: Detector;
  const warnings: object[] = [];
  const infos: object[] = [];
  const events = (list: object[], name: string) =>
    list.filter((w) => (w as { event?: string }).event === name).length;
  before(async () => {
    server = await startPrivateRedis();
    detector = createDetector({
      redisUrl: server.url,
      redisTimeoutMs: 100,
      logger: { warn: (o) => warnings.push(o), info: (o) => infos.push(o) },
    });
  });
  after(async () => {
    await detector.close();
    await server.stop();
  });

  const fail = (ip: string) => detector.recordFailure({ ip, username: 'outage@example.com' });

  it('uses Redis while it is up, in one EVALSHA per failed login', async () => {
    await fail('192.0.2.1'); // loads the script
    const admin = new Redis(server.url);
    await admin.config('RESETSTAT');
    for (let i = 0; i < 7; i++) await fail('192.0.2.1');
    const stats = await admin.info('commandstats');
    admin.disconnect();
    assert.match(stats, /cmdstat_evalsha:calls=7,/);
    assert.doesNotMatch(stats, /cmdstat_eval:/);
    assert.equal(detector.degraded, false);
  });

  it('keeps answering from in-process state when Redis dies, with one detection_degraded warning', async () => {
    await server.kill();
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await fail('192.0.2.2'));
    assert.equal(detector.degraded, true);
    assert.equal(warnings.filter((w) => (w as { event?: string }).event === 'detection_degraded').length, 1);
    // Detection still works on the fallback.
    assert.equal(results[4]?.suspicious, true);
    assert.equal(results[5]?.counts.failedAttemptsFromIp, 6);
  });

  it('returns to Redis when it comes back', async () => {
    await server.start();
    await until(async () => {
      await fail('192.0.2.3');
      return !detector.degraded;
    });
    // At the level of detection_degraded: a log that shows the outage shows its end.
    assert.equal(events(warnings, 'detection_recovered'), 1);
    assert.equal(events(infos, 'detection_recovered'), 0);
    await fail('192.0.2.3');
    const admin = new Redis(server.url);
    const keys = await admin.keys('tg:*');
    admin.disconnect();
    assert.ok(
      keys.some((k) => k.includes('192.0.2.3')),
      'state is written to Redis again',
    );
  });

  it('refuses a reset while Redis is unreachable, and resets nothing', async () => {
    await server.kill();
    try {
      for (let i = 0; i < 3; i++) await fail('192.0.2.7');
      assert.equal(detector.degraded, true);
      await assert.rejects(
        detector.reset({ ip: '192.0.2.7' }),
        (err: unknown) =>
          isTrailguardError(err) &&
          err.code === 'DETECTION_UNAVAILABLE' &&
          err.status === 503 &&
          (err as { retryAfterSeconds?: number }).retryAfterSeconds === 1,
      );
      // Not even the fallback was cleared: the reset is all or nothing.
      assert.equal((await detector.check({ ip: '192.0.2.7' })).counts.failedAttemptsFromIp, 3);
    } finally {
      await server.start();
    }
    await until(async () => {
      await fail('192.0.2.8');
      return !detector.degraded;
    });
    await fail('192.0.2.9');
    await detector.reset({ ip: '192.0.2.9' });
    assert.equal((await detector.check({ ip: '192.0.2.9' })).counts.failedAttemptsFromIp, 0);
  });

  it('answers calls in the order they were made when Redis freezes with calls in flight', async () => {
    const own = createDetector({ redisUrl: server.url, redisTimeoutMs: 100, keyPrefix: 'order:' });
    try {
      await own.ready();
      await own.recordFailure({ ip: '192.0.2.10', username: 'order@example.com' });
      server.pause();
      const order: number[] = [];
      const call = (n: number) =>
        own.recordFailure({ ip: '192.0.2.11', username: 'order@example.com' }).then((r) => {
          order.push(n);
          return r.counts.failedAttemptsFromIp;
        });
      try {
        // 1 and 2 are written to the frozen Redis with different deadlines; 3 comes after 1 timed out.
        const one = call(1);
        await sleep(60);
        const two = call(2);
        await sleep(80);
        const three = call(3);
        const four = call(4);
        const counts = await Promise.all([one, two, three, four]);
        assert.deepEqual(order, [1, 2, 3, 4]);
        assert.deepEqual(counts, [1, 2, 3, 4]);
        assert.equal(own.degraded, true);
      } finally {
        server.resume();
      }
    } finally {
      await own.close();
    }
  });

  it('keeps answering when Redis is frozen and stops answering (command timeout)', async () => {
    warnings.length = 0;
    server.pause();
    try {
      const r = await fail('192.0.2.4');
      assert.equal(detector.degraded, true);
      assert.equal(r.counts.failedAttemptsFromIp, 1);
      let last = r;
      for (let i = 0; i < 20; i++) last = await fail('192.0.2.4');
      assert.equal(last.counts.failedAttemptsFromIp, 21);
      assert.equal(warnings.length, 1);
    } finally {
      server.resume();
    }
    await until(async () => {
      await fail('192.0.2.5');
      return !detector.degraded;
    });
  });

  it("bounds the wait on an application's own client, which has no command timeout", async () => {
    const client = new Redis(server.url);
    const own = createDetector({ redis: client, redisTimeoutMs: 100 });
    try {
      await own.recordFailure({ ip: '192.0.2.6', username: 'own@example.com' });
      assert.equal(own.degraded, false);
      server.pause();
      try {
        const started = performance.now();
        const r = await own.recordFailure({ ip: '192.0.2.6', username: 'own@example.com' });
        assert.ok(performance.now() - started < 1000, 'answered from the fallback, not after Redis');
        assert.equal(own.degraded, true);
        assert.equal(r.counts.failedAttemptsFromIp, 1);
      } finally {
        server.resume();
      }
    } finally {
      await own.close();
      client.disconnect();
    }
  });
});
