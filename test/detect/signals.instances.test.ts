/**
 * One window raises at most one signal event across every server instance, whether Redis is shared and
 * healthy, lost by one instance, or down for all: two Trailguard instances over one PostgreSQL database,
 * on private redis-servers (they are killed here, never the shared one).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createTrailguard } from '../../src/index.ts';
import type { Trailguard, TrailguardOptions } from '../../src/index.ts';
import { POSTGRES_SKIP, REDIS_SKIP, createTestDatabase } from '../helpers/backends.ts';
import { startPrivateRedis } from '../helpers/redis-server.ts';
import type { PrivateRedis } from '../helpers/redis-server.ts';

describe('signal events across two instances', { skip: POSTGRES_SKIP || REDIS_SKIP }, () => {
  let db: { url: string; drop(): Promise<void> };
  let shared: PrivateRedis;
  let own: PrivateRedis;
  let a: Trailguard;
  let b: Trailguard;
  const degraded = { a: 0, b: 0 };

  function open(redisUrl: string, name: 'a' | 'b'): Promise<Trailguard> {
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    const options: TrailguardOptions = {
      databaseUrl: db.url,
      redisUrl,
      geo: false,
      logger: { ...quiet, warn: (o: unknown) => void (isDegraded(o) && degraded[name]++) },
      securityLog: { enabled: false },
      detection: {
        keyPrefix: 'tg-instances:',
        redisTimeoutMs: 100,
        bruteForce: { threshold: 5 },
        accountEnumeration: { threshold: 6 },
      },
    };
    return createTrailguard(options);
  }
  const isDegraded = (o: unknown) => (o as { event?: string } | null)?.event === 'detection_degraded';

  before(async () => {
    [db, shared, own] = await Promise.all([createTestDatabase(), startPrivateRedis(), startPrivateRedis()]);
    a = await open(shared.url, 'a');
    // b starts on the shared Redis too, through its own server: killing that one cuts b alone off.
    b = await open(shared.url, 'b');
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await Promise.all([shared?.stop(), own?.stop(), db?.drop()]);
  });

  /** 12 failed logins from `ip` for 12 accounts, half through each instance, half of them concurrently. */
  async function attack(ip: string): Promise<void> {
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 12; i++) {
      const tg = i % 2 === 0 ? a : b;
      const username = `victim${i}-${randomBytes(3).toString('hex')}@example.com`;
      // Both ways a failure is recorded: a login row (its events go with it) and a bare event.
      const call =
        i % 4 < 2
          ? tg.logins.record({ username, success: false, ip })
          : tg.security.loginFailed({ username, ip });
      if (i < 6) await call;
      else calls.push(call);
    }
    await Promise.all(calls);
    await Promise.all([a.security.flush(), b.security.flush()]);
  }

  async function signals(ip: string): Promise<Record<string, number>> {
    const page = await a.security.events({ type: 'suspicious_activity', ip });
    const out: Record<string, number> = {};
    for (const e of page.items) {
      const p = e.context['pattern'] as string;
      out[p] = (out[p] ?? 0) + 1;
    }
    return out;
  }

  it('raises one brute_force and one account_enumeration event while both share a healthy Redis', async () => {
    await attack('192.0.2.21');
    assert.deepEqual(await signals('192.0.2.21'), { brute_force: 1, account_enumeration: 1 });
    assert.deepEqual(degraded, { a: 0, b: 0 });
  });

  it('raises one of each when one instance has lost Redis and counts on its own', async () => {
    // b moves to a Redis of its own, which then dies: b counts its share in-process, a in Redis.
    await b.close();
    b = await open(own.url, 'b');
    await own.kill();
    await attack('192.0.2.22');
    assert.ok(degraded.b >= 1, 'b answered from its fallback');
    assert.equal(degraded.a, 0);
    assert.deepEqual(await signals('192.0.2.22'), { brute_force: 1, account_enumeration: 1 });
  });

  it('raises one of each when Redis is down for both instances', async () => {
    await shared.kill();
    await attack('192.0.2.23');
    assert.ok(degraded.a >= 1, 'a answered from its fallback');
    assert.deepEqual(await signals('192.0.2.23'), { brute_force: 1, account_enumeration: 1 });
  });

  it('still raises a new signal once the window has passed', async () => {
    // Event time an hour later: both windows (15 and 10 minutes) have passed since the first signal.
    const later = new Date(Date.now() + 3600_000);
    // Five through each instance: each one's fallback trips brute force on its own.
    for (let i = 0; i < 10; i++) {
      await (i % 2 ? a : b).security.loginFailed({
        username: `late${i}@example.com`,
        ip: '192.0.2.23',
        occurredAt: later,
      });
    }
    assert.deepEqual(await signals('192.0.2.23'), { brute_force: 2, account_enumeration: 1 });
  });
});
