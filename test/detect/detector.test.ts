/**
 * The detection suite, run against the in-process store and against Redis (same tests, same verdicts).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createDetector } from '../../src/detect/index.ts';
import type { Detector, DetectorOptions } from '../../src/detect/index.ts';
import { manualClock } from '../../src/domain/clock.ts';
import { REDIS_SKIP, TEST_REDIS_URL } from '../helpers/backends.ts';

const T0 = Date.parse('2026-03-01T10:00:00Z');
const MIN = 60_000;

type Backend = 'memory' | 'redis';

/** Builds detectors on one backend; each gets its own key prefix so runs never collide. */
function factory(backend: Backend) {
  const made: Detector[] = [];
  const prefixes: string[] = [];
  return {
    make(options: DetectorOptions = {}): Detector {
      const keyPrefix = `tgtest:${randomBytes(5).toString('hex')}:`;
      prefixes.push(keyPrefix);
      const d = createDetector({
        ...(backend === 'redis' ? { redisUrl: TEST_REDIS_URL } : {}),
        keyPrefix,
        ...options,
      });
      made.push(d);
      return d;
    },
    async cleanup(): Promise<void> {
      await Promise.all(made.map((d) => d.close()));
      if (backend !== 'redis') return;
      const r = new Redis(TEST_REDIS_URL as string);
      for (const prefix of prefixes) {
        let cursor = '0';
        do {
          const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length) await r.del(...keys);
        } while (cursor !== '0');
      }
      r.disconnect();
    },
  };
}

const at = (minutes: number) => new Date(T0 + minutes * MIN);
const ip = (n: number) => `203.0.113.${n}`;

function suite(backend: Backend): void {
  const f = factory(backend);
  after(() => f.cleanup());

  it('flags brute force at the fifth failure from one IP within 15 minutes, not before', async () => {
    const d = f.make();
    for (let i = 0; i < 4; i++) {
      const r = await d.recordFailure({ ip: ip(1), username: `user${i}@example.com`, at: at(i) });
      assert.equal(r.suspicious, false);
      assert.equal(r.counts.failedAttemptsFromIp, i + 1);
    }
    const r = await d.recordFailure({ ip: ip(1), username: 'user9@example.com', at: at(4) });
    assert.equal(r.suspicious, true);
    const s = r.signals.find((x) => x.pattern === 'brute_force');
    assert.ok(s);
    assert.deepEqual(
      { key: s.key, count: s.count, threshold: s.threshold, windowSeconds: s.windowSeconds },
      { key: ip(1), count: 5, threshold: 5, windowSeconds: 900 },
    );
    assert.equal(s.firstSeenAt.getTime(), at(0).getTime());
  });

  it('does not flag five failures spread over more than the window', async () => {
    const d = f.make();
    let last;
    for (let i = 0; i < 5; i++)
      last = await d.recordFailure({ ip: ip(2), username: 'a@example.com', at: at(i * 4) });
    assert.equal(last?.suspicious, false);
    assert.equal(last?.counts.failedAttemptsFromIp, 4);
  });

  it('flags a distributed attack at ten distinct IPs against one account within 30 minutes', async () => {
    const d = f.make();
    let r;
    for (let i = 0; i < 9; i++) {
      r = await d.recordFailure({ ip: ip(10 + i), username: 'victim@example.com', at: at(i * 3) });
      assert.equal(r.suspicious, false);
    }
    // The same IP again does not add a distinct address.
    r = await d.recordFailure({ ip: ip(10), username: 'victim@example.com', at: at(27) });
    assert.equal(r.counts.uniqueIpsForAccount, 9);
    r = await d.recordFailure({ ip: ip(30), username: 'VICTIM@example.com ', at: at(28) });
    assert.equal(r.counts.uniqueIpsForAccount, 10);
    assert.deepEqual(
      r.signals.map((s) => s.pattern),
      ['distributed_attack'],
    );
    assert.equal(r.newSignals.length, 1);
  });

  it('flags account enumeration at twenty distinct accounts from one IP within 10 minutes', async () => {
    const d = f.make({ patterns: { bruteForce: false } });
    let r;
    for (let i = 0; i < 20; i++) {
      r = await d.recordFailure({ ip: ip(40), username: `probe${i}@example.com`, at: at(i * 0.4) });
      assert.equal(r.suspicious, i === 19, `failure ${i}`);
    }
    assert.equal(r?.counts.uniqueAccountsFromIp, 20);
    assert.equal(r?.signals[0]?.pattern, 'account_enumeration');
  });

  it('raises one alert per pattern and key per window, not one per further failure', async () => {
    const d = f.make();
    const alerts: string[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await d.recordFailure({ ip: ip(50), username: 'x@example.com', at: at(i) });
      for (const s of r.newSignals) alerts.push(`${s.pattern}@${i}`);
      if (i >= 4) assert.equal(r.suspicious, true);
    }
    assert.deepEqual(alerts, ['brute_force@4']);
    // A window later, a continuing attack raises a new alert.
    const r = await d.recordFailure({ ip: ip(50), username: 'x@example.com', at: at(4 + 15) });
    assert.deepEqual(
      r.newSignals.map((s) => s.pattern),
      ['brute_force'],
    );
  });

  it('counts events that arrive out of order within the window', async () => {
    const d = f.make();
    const order = [3, 0, 4, 1, 2];
    const results = [];
    for (const m of order)
      results.push(await d.recordFailure({ ip: ip(60), username: 'o@example.com', at: at(m) }));
    // The last arrival (t=2) completes a five-failure window even though t=3 and t=4 came first.
    assert.equal(results[4]?.suspicious, true);
    assert.equal(results[4]?.counts.failedAttemptsFromIp, 5);
    assert.equal(results[4]?.signals[0]?.firstSeenAt.getTime(), at(0).getTime());
    assert.equal(results.filter((r) => r.newSignals.length > 0).length, 1);
  });

  it('does not let a late event from outside the window complete it', async () => {
    const d = f.make();
    for (const m of [20, 21, 22, 23])
      await d.recordFailure({ ip: ip(61), username: 'o@example.com', at: at(m) });
    const late = await d.recordFailure({ ip: ip(61), username: 'o@example.com', at: at(2) });
    assert.equal(late.suspicious, false);
    assert.equal(late.counts.failedAttemptsFromIp, 1);
  });

  it('gives the same verdicts replayed in event time as it gave live', async () => {
    // A seeded log: a few attackers among background noise over two hours.
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const log: { ip: string; username: string; ms: number }[] = [];
    let t = T0;
    for (let i = 0; i < 300; i++) {
      t += Math.floor(rand() * 40_000);
      const attacker = rand() < 0.5;
      log.push({
        ip: attacker ? ip(200 + Math.floor(rand() * 3)) : `198.51.100.${Math.floor(rand() * 250)}`,
        username: attacker && rand() < 0.5 ? 'target@example.com' : `u${Math.floor(rand() * 60)}@example.com`,
        ms: t,
      });
    }
    const clock = manualClock(T0);
    const live = f.make({ clock });
    const verdicts = async (det: Detector, useAt: boolean) => {
      const out: string[] = [];
      for (const e of log) {
        if (!useAt) clock.set(e.ms);
        const r = await det.recordFailure({ ip: e.ip, username: e.username, ...(useAt ? { at: e.ms } : {}) });
        out.push(
          `${r.signals.map((s) => s.pattern).join(',')}|${r.newSignals.map((s) => s.pattern).join(',')}|${r.counts.failedAttemptsFromIp},${r.counts.uniqueAccountsFromIp},${r.counts.uniqueIpsForAccount}`,
        );
      }
      return out;
    };
    const liveVerdicts = await verdicts(live, false);
    clock.set(T0 + 365 * 24 * 3600_000); // a year later
    const replayVerdicts = await verdicts(f.make({ clock }), true);
    assert.deepEqual(replayVerdicts, liveVerdicts);
    assert.ok(
      liveVerdicts.some((v) => v.startsWith('brute_force')),
      'the log contains attacks',
    );
  });

  it('honours configured thresholds and windows', async () => {
    const d = f.make({ patterns: { bruteForce: { threshold: 3, windowSeconds: 60 } } });
    await d.recordFailure({ ip: ip(70), username: 'c@example.com', at: at(0) });
    await d.recordFailure({ ip: ip(70), username: 'c@example.com', at: at(0.5) });
    const r = await d.recordFailure({ ip: ip(70), username: 'c@example.com', at: at(0.9) });
    assert.equal(r.signals[0]?.threshold, 3);
    assert.equal(r.signals[0]?.windowSeconds, 60);
    const later = await d.recordFailure({ ip: ip(70), username: 'c@example.com', at: at(2) });
    assert.equal(later.suspicious, false);
  });

  it('check() reports without recording, with the time the IP is released', async () => {
    const clock = manualClock(at(10));
    const d = f.make({ clock });
    for (let i = 0; i < 5; i++) await d.recordFailure({ ip: ip(80), username: 'k@example.com', at: at(i) });
    const c1 = await d.check({ ip: ip(80) });
    const c2 = await d.check({ ip: ip(80), username: 'k@example.com' });
    assert.equal(c1.suspicious, true);
    assert.equal(c2.counts.failedAttemptsFromIp, 5);
    assert.equal(c2.counts.uniqueIpsForAccount, 1);
    // Five failures at 0..4 min: the count falls to four when the first one leaves the 15-minute window.
    assert.equal(c1.releaseAt.brute_force?.getTime(), at(15).getTime());
    clock.set(at(15));
    assert.equal((await d.check({ ip: ip(80) })).suspicious, false);
  });

  it('reset() forgets an IP and an account', async () => {
    const clock = manualClock(at(5));
    const d = f.make({ clock });
    for (let i = 0; i < 5; i++) await d.recordFailure({ ip: ip(90), username: 'r@example.com', at: at(i) });
    await d.reset({ ip: ip(90), username: 'r@example.com' });
    const c = await d.check({ ip: ip(90), username: 'r@example.com' });
    assert.equal(c.suspicious, false);
    assert.equal(c.counts.failedAttemptsFromIp, 0);
    assert.equal(c.counts.uniqueIpsForAccount, 0);
    // And a new attack raises a new alert.
    let r;
    for (let i = 0; i < 5; i++)
      r = await d.recordFailure({ ip: ip(90), username: 'r@example.com', at: at(5) });
    assert.equal(r?.newSignals.length, 1);
  });

  it('rejects a missing or unparseable IP and an empty username with the field', async () => {
    const d = f.make();
    const bad: [unknown, string][] = [
      [{ username: 'a@example.com' }, 'ip'],
      [{ ip: 'not-an-ip', username: 'a@example.com' }, 'ip'],
      [{ ip: '1.2.3.4', username: '   ' }, 'username'],
      [{ ip: '1.2.3.4', username: 'a@example.com', at: 'yesterday' }, 'at'],
    ];
    for (const [input, field] of bad) {
      await assert.rejects(d.recordFailure(input as never), (e: { code?: string; field?: string }) => {
        assert.equal(e.code, 'VALIDATION_FAILED');
        assert.equal(e.field, field);
        return true;
      });
    }
    assert.equal((await d.check({ ip: '1.2.3.4' })).counts.failedAttemptsFromIp, 0);
  });

  it('treats IPv4-mapped IPv6 and plain IPv4 as one address', async () => {
    const d = f.make();
    await d.recordFailure({ ip: '::ffff:192.0.2.7', username: 'm@example.com', at: at(0) });
    const r = await d.recordFailure({ ip: '192.0.2.7', username: 'm@example.com', at: at(1) });
    assert.equal(r.counts.failedAttemptsFromIp, 2);
  });
}

describe('detection [memory]', () => {
  suite('memory');

  it('keeps a bounded number of keys', async () => {
    const { createMemoryWindowStore } = await import('../../src/detect/memory-window-store.ts');
    const store = createMemoryWindowStore({ maxKeys: 10 });
    for (let i = 0; i < 50; i++) {
      await store.apply([{ key: `k${i}`, entity: 'e', retentionMs: 60_000, windows: [] }], T0, true);
    }
    assert.equal(store.size, 10);
  });
});

describe('detection [redis]', { skip: REDIS_SKIP }, () => {
  suite('redis');

  describe('Redis store against the in-process store', () => {
    let r: Redis;
    const prefix = `tgtest:${randomBytes(5).toString('hex')}:`;
    before(() => {
      r = new Redis(TEST_REDIS_URL as string);
    });
    after(async () => {
      const [, keys] = await r.scan('0', 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await r.del(...keys);
      r.disconnect();
    });

    // Low thresholds trip windows on most events (first-seen, release and alert times); high ones keep
    // most counts below them, the script's table-free path for events in order.
    for (const { name, cap, thresholds, bfWindowMs } of [
      { name: 'tripped', cap: 12, thresholds: { bf: 4, en: 3, da: 3 } },
      { name: 'mostly below the thresholds', cap: 40, thresholds: { bf: 30, en: 5, da: 6 } },
      // A 10-second brute-force window at threshold 1: tripped by keys with no other event inside it.
      { name: 'threshold 1', cap: 12, thresholds: { bf: 1, en: 2, da: 2 }, bfWindowMs: 10_000 },
    ])
      it(`gives identical outcomes on shuffled, late and capped events (${name})`, async () => {
        const { createMemoryWindowStore } = await import('../../src/detect/memory-window-store.ts');
        const { createRedisWindowStore } = await import('../../src/detect/redis-window-store.ts');
        const memory = createMemoryWindowStore({ maxEntriesPerKey: cap });
        const redis = createRedisWindowStore({
          client: r,
          ownsClient: false,
          fallback: createMemoryWindowStore(),
          maxEntriesPerKey: cap,
        });
        const ipWindows = [
          { mode: 'count' as const, windowMs: bfWindowMs ?? 5 * MIN, threshold: thresholds.bf, field: 'bf' },
          { mode: 'distinct' as const, windowMs: 3 * MIN, threshold: thresholds.en, field: 'en' },
        ];
        const accountWindows = [
          { mode: 'distinct' as const, windowMs: 4 * MIN, threshold: thresholds.da, field: 'da' },
        ];
        let seed = 7;
        const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
        let t = T0;
        for (let i = 0; i < 600; i++) {
          t += rand(12_000);
          // Mostly in order; a third arrive up to 4 minutes late.
          const at = rand(3) === 0 ? t - rand(4 * MIN) : t;
          const ipKey = `${prefix}${name}{i:${rand(2)}}`;
          const accountKey = `${prefix}${name}{a:${rand(3)}}`;
          const ops = [
            {
              key: ipKey,
              entity: `acct${rand(5)}`,
              retentionMs: 6 * MIN,
              windows: ipWindows,
            },
            {
              key: accountKey,
              entity: `ip${rand(6)}`,
              retentionMs: 6 * MIN,
              windows: accountWindows,
            },
          ];
          const record = rand(5) !== 0;
          const [mine, theirs] = await Promise.all([
            redis.apply(ops, at, record),
            memory.apply(ops, at, record),
          ]);
          assert.deepEqual(mine, theirs, `event ${i} at +${(at - T0) / 1000}s (record ${record})`);
        }
        await redis.close();
      });

    it('gives the same outcomes for concurrent calls (sent as one script call) as one by one', async () => {
      const { createMemoryWindowStore } = await import('../../src/detect/memory-window-store.ts');
      const { createRedisWindowStore } = await import('../../src/detect/redis-window-store.ts');
      const memory = createMemoryWindowStore({ maxEntriesPerKey: 10 });
      const redis = createRedisWindowStore({
        client: r,
        ownsClient: false,
        fallback: createMemoryWindowStore(),
        maxEntriesPerKey: 10,
        maxBatch: 16,
      });
      const ipWindows = [
        { mode: 'count' as const, windowMs: 2 * MIN, threshold: 3, field: 'bf' },
        { mode: 'distinct' as const, windowMs: 2 * MIN, threshold: 3, field: 'en' },
      ];
      const accountWindows = [{ mode: 'distinct' as const, windowMs: 3 * MIN, threshold: 4, field: 'da' }];
      let seed = 11;
      const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
      let t = T0;
      const bursts = Array.from({ length: 20 }, (_, burst) => {
        // Bursts of 1–40 calls issued together: the store cuts them into script calls of ≤ 16, and
        // several calls in one script touch the same key.
        const events = Array.from({ length: 1 + rand(40) }, () => {
          t += rand(4_000);
          const ipKey = `${prefix}b{i:${burst % 3}-${rand(2)}}`;
          const accountKey = `${prefix}b{a:${burst % 3}-${rand(3)}}`;
          return {
            at: rand(4) === 0 ? t - rand(MIN) : t,
            ops: [
              { key: ipKey, entity: `acct${rand(6)}`, retentionMs: 4 * MIN, windows: ipWindows },
              { key: accountKey, entity: `ip${rand(7)}`, retentionMs: 4 * MIN, windows: accountWindows },
            ],
          };
        });
        return events;
      });
      for (const [b, events] of bursts.entries()) {
        const mine = await Promise.all(events.map((e) => redis.apply(e.ops, e.at, true)));
        const theirs: unknown[] = [];
        for (const e of events) theirs.push(await memory.apply(e.ops, e.at, true));
        assert.deepEqual(mine, theirs, `burst ${b} of ${events.length} calls`);
      }
      assert.equal(redis.degraded, false);
      await redis.close();
    });
  });

  describe('Redis layout', () => {
    const f = factory('redis');
    after(() => f.cleanup());
    let r: Redis;
    before(() => {
      r = new Redis(TEST_REDIS_URL as string);
    });
    after(() => r.disconnect());

    it('never writes the raw account name, and keeps keys small (capped, expiring)', async () => {
      const keyPrefix = `tgtest:${randomBytes(5).toString('hex')}:`;
      const d = createDetector({ redisUrl: TEST_REDIS_URL, keyPrefix });
      try {
        for (let i = 0; i < 150; i++) {
          await d.recordFailure({ ip: ip(100), username: 'Secret.Person@example.com', at: at(i / 20) });
        }
        // Every SCAN page: on a shared Redis with thousands of keys the first page may hold none of ours.
        const keys: string[] = [];
        let cursor = '0';
        do {
          const [next, page] = await r.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
          cursor = next;
          keys.push(...page);
        } while (cursor !== '0');
        assert.equal(keys.length, 2, 'one key per IP and one per account, alert times included');
        for (const k of keys) {
          assert.doesNotMatch(k.toLowerCase(), /secret\.person/);
          assert.equal(await r.type(k), 'string');
          const value = (await r.getBuffer(k)) as Buffer;
          assert.doesNotMatch(value.toString('latin1').toLowerCase(), /secret\.person/);
          // 64 events at most (the default cap), each a time, a length byte and an entity of ≤ 16 bytes.
          assert.ok(value.length <= 1 + 6 * 2 + 64 * (6 + 1 + 16), `${k} holds ${value.length} bytes`);
          assert.ok(Number(await r.memory('USAGE', k)) <= 2048);
          assert.ok((await r.pttl(k)) > 0, 'keys expire');
          // Cluster-friendly: every key carries a hash tag.
          assert.match(k, /\{[ia]:[^}]+\}/);
        }
      } finally {
        await d.close();
        const keys = await r.keys(`${keyPrefix}*`);
        if (keys.length) await r.del(...keys);
      }
    });
  });
});
