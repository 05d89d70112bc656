/**
 * While Redis is healthy, detection stays on Redis: calls made before the connection is ready wait for
 * it, and a busy event loop never sends calls to the in-process fallback. Runs on the shared Redis with
 * a key prefix of its own (nothing is stopped or flushed).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createDetector } from '../../src/detect/index.ts';
import type { Detector, DetectorOptions } from '../../src/detect/index.ts';
import { REDIS_SKIP, TEST_REDIS_URL } from '../helpers/backends.ts';

/** Blocks the event loop, as a CPU-heavy request handler or a large JSON parse would. */
function blockLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

describe('detection on a healthy Redis', { skip: REDIS_SKIP }, () => {
  const prefixes: string[] = [];
  const made: Detector[] = [];
  const degradedEvents: unknown[] = [];
  const secret = randomBytes(16);
  function make(options: DetectorOptions = {}, keyPrefix?: string): Detector {
    const prefix = keyPrefix ?? `tgtest:health:${randomBytes(5).toString('hex')}:`;
    prefixes.push(prefix);
    const d = createDetector({
      redisUrl: TEST_REDIS_URL,
      keyPrefix: prefix,
      accountKeySecret: secret,
      redisTimeoutMs: 100,
      onDegraded: (err) => degradedEvents.push(err),
      ...options,
    });
    made.push(d);
    return d;
  }
  after(async () => {
    await Promise.all(made.map((d) => d.close()));
    const r = new Redis(TEST_REDIS_URL as string);
    for (const prefix of prefixes) {
      const keys = await r.keys(`${prefix}*`);
      if (keys.length) await r.del(...keys);
    }
    r.disconnect();
  });

  it('answers calls made in the first tick after creation from Redis, in order', async () => {
    degradedEvents.length = 0;
    const d = make();
    // Made at once, before the client has connected: they wait for the connection, not the fallback.
    const calls = Array.from({ length: 8 }, () =>
      d.recordFailure({ ip: '198.51.100.10', username: 'cold@example.com' }),
    );
    const results = await Promise.all(calls);
    assert.deepEqual(
      results.map((r) => r.counts.failedAttemptsFromIp),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    assert.equal(d.degraded, false);
    assert.deepEqual(degradedEvents, [], 'no call went to the fallback');
    // The counts are in Redis: a second process with the same prefix sees them.
    const other = make({}, prefixes[prefixes.length - 1]);
    const seen = await other.check({ ip: '198.51.100.10' });
    assert.equal(seen.counts.failedAttemptsFromIp, 8);
    assert.equal(degradedEvents.length, 0);
  });

  it('ready() resolves once the connection is up', async () => {
    const d = make();
    assert.equal(await d.ready(), true);
    const r = await d.recordFailure({ ip: '198.51.100.11', username: 'ready@example.com' });
    assert.equal(r.counts.failedAttemptsFromIp, 1);
  });

  it('stays on Redis while the event loop is blocked for 200 ms again and again under load', async () => {
    degradedEvents.length = 0;
    const d = make();
    await d.ready();
    const total = 10 * 40;
    const results = [];
    for (let round = 0; round < 10; round++) {
      // Calls written to Redis, then the process is busy for twice the deadline before it reads the
      // replies: the deadline passes on the clock, but Redis answered in time.
      const calls = Array.from({ length: 40 }, (_, i) =>
        d.recordFailure({ ip: '198.51.100.12', username: `slow${i % 7}@example.com` }),
      );
      await new Promise((r) => setImmediate(r));
      blockLoop(200);
      const timer = setTimeout(() => blockLoop(200), 1);
      results.push(...(await Promise.all(calls)));
      clearTimeout(timer);
    }
    assert.deepEqual(degradedEvents, [], 'no call went to the fallback');
    assert.equal(d.degraded, false);
    // Every call was counted in Redis, once, in order.
    assert.deepEqual(
      results.map((r) => r.counts.failedAttemptsFromIp),
      Array.from({ length: total }, (_, i) => Math.min(i + 1, 64)),
    );
  });
});
