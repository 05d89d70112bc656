/**
 * A Redis outage never blocks or fails a login: against a real redis-server (a private child process
 * on its own port) that is killed, restarted and frozen.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
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
    assert.equal(infos.filter((w) => (w as { event?: string }).event === 'detection_recovered').length, 1);
    const admin = new Redis(server.url);
    const keys = await admin.keys('tg:*');
    admin.disconnect();
    assert.ok(
      keys.some((k) => k.includes('192.0.2.3')),
      'state is written to Redis again',
    );
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
