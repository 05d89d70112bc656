/**
 * bench/detect: the detector's cost per failed login against rate-limiter-flexible on the same Redis,
 * in the same run. `node --import tsx bench/detect/run.ts [--runs 5] [--ops 20000] [--seq-ops 5000]
 * [--timeout-ms 1000] [--auto-pipelining]`
 * Env: BENCH_REDIS_URL (default redis://127.0.0.1:6379). Keys use a random prefix and are deleted after.
 * `--auto-pipelining` turns on ioredis `enableAutoPipelining` for BOTH clients (Trailguard's and
 * rate-limiter-flexible's); without it neither uses it. Trailguard sends at most one EVALSHA per failure
 * (failures that arrive together share one).
 * `--timeout-ms` is the detector's deadline per Redis call: on a loaded machine the production default
 * (100 ms) can trip and silently measure the in-process fallback, so the bench raises it and counts
 * every fallback (column `fallbacks`; a run with fallbacks is not a Redis measurement).
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { createDetector, detectionRedisOptions } from '../../src/detect/index.ts';

const url = process.env['BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const argv = process.argv.slice(2);
const arg = (name: string, dflt: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const RUNS = arg('runs', 5);
const OPS = arg('ops', 20000);
const SEQ_OPS = arg('seq-ops', 5000);
const CONCURRENCY = 64;
const TIMEOUT_MS = arg('timeout-ms', 1000);
const AUTO_PIPELINING = argv.includes('--auto-pipelining');
let fallbacks = 0;
const IPS = 20000;
const ACCOUNTS = 20000;

type Op = (ip: string, user: string) => Promise<unknown>;
interface Result {
  opsPerSec: number;
  p50us: number;
  p99us: number;
}

const randIp = () =>
  `10.${(Math.random() * 256) | 0}.${(Math.random() * 256) | 0}.${(Math.random() * 256) | 0}`;
const ipPool = Array.from({ length: IPS }, randIp);
const userPool = Array.from({ length: ACCOUNTS }, (_, i) => `user${i}@example.com`);
const pick = <T>(a: T[]) => a[(Math.random() * a.length) | 0] as T;

async function measure(op: Op, total: number, concurrency: number): Promise<Result> {
  const lat = new Float64Array(total);
  let next = 0;
  const started = performance.now();
  async function worker(): Promise<void> {
    while (next < total) {
      const i = next++;
      const t = performance.now();
      await op(pick(ipPool), pick(userPool)).catch(() => {}); // RLF rejects when a limit is hit
      lat[i] = performance.now() - t;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const secs = (performance.now() - started) / 1000;
  const sorted = Array.from(lat).sort((a, b) => a - b);
  return {
    opsPerSec: total / secs,
    p50us: (sorted[Math.floor(total * 0.5)] as number) * 1000,
    p99us: (sorted[Math.floor(total * 0.99)] as number) * 1000,
  };
}

async function keysOf(r: Redis, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out;
}

async function memoryPerIp(
  r: Redis,
  prefix: string,
  ipKeyPattern: RegExp,
): Promise<{ total: number; perIp: number; ipKeyOnly: number }> {
  const keys = await keysOf(r, prefix);
  let total = 0;
  let ipBytes = 0;
  let ipKeys = 0;
  for (let i = 0; i < keys.length; i += 500) {
    const batch = keys.slice(i, i + 500);
    const p = r.pipeline();
    for (const k of batch) p.memory('USAGE', k, 'SAMPLES', '0');
    const res = (await p.exec()) ?? [];
    res.forEach(([, v], j) => {
      const n = Number(v);
      total += n;
      if (ipKeyPattern.test(batch[j] as string)) {
        ipBytes += n;
        ipKeys++;
      }
    });
  }
  return { total, perIp: ipKeys ? total / ipKeys : 0, ipKeyOnly: ipKeys ? ipBytes / ipKeys : 0 };
}

async function cleanup(r: Redis, prefix: string): Promise<void> {
  const keys = await keysOf(r, prefix);
  for (let i = 0; i < keys.length; i += 1000) await r.unlink(...keys.slice(i, i + 1000));
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

interface Scenario {
  name: string;
  setup(prefix: string): Promise<{ op: Op; close(): Promise<void>; ipKey: RegExp }>;
}

const admin = new Redis(url);
// rate-limiter-flexible's documented setup (offline queue on); auto-pipelining only with the flag, as for Trailguard.
const rlfClient = new Redis(url, { enableAutoPipelining: AUTO_PIPELINING });

const scenarios: Scenario[] = [
  {
    name: 'trailguard detector.recordFailure (3 exact patterns)',
    async setup(prefix) {
      const client = new Redis(url, {
        ...detectionRedisOptions(TIMEOUT_MS),
        enableAutoPipelining: AUTO_PIPELINING,
      });
      client.on('error', () => {});
      // Connected before the first call, so that a build without a readiness wait is measured on Redis
      // too (a warm-up call answered by the fallback would leave it degraded for the whole scenario).
      if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
      const d = createDetector({
        redis: client,
        redisTimeoutMs: TIMEOUT_MS,
        keyPrefix: prefix,
        accountKeySecret: 'bench-secret-0123456789',
        onDegraded: () => fallbacks++,
      });
      await d.recordFailure({ ip: '10.0.0.1', username: 'warm@example.com' });
      return {
        op: (ip, username) => d.recordFailure({ ip, username }),
        close: async () => {
          await d.close();
          client.disconnect();
        },
        ipKey: /\{i:[^}]+\}:w$/,
      };
    },
  },
  {
    name: 'rate-limiter-flexible consume(ip)',
    async setup(prefix) {
      const l = new RateLimiterRedis({
        storeClient: rlfClient,
        keyPrefix: `${prefix}ip`,
        points: 5,
        duration: 900,
      });
      return { op: (ip) => l.consume(ip), close: async () => {}, ipKey: /./ };
    },
  },
  {
    name: 'rate-limiter-flexible login recipe (IP + username×IP)',
    async setup(prefix) {
      const byIp = new RateLimiterRedis({
        storeClient: rlfClient,
        keyPrefix: `${prefix}ip`,
        points: 100,
        duration: 86400,
      });
      const byUserIp = new RateLimiterRedis({
        storeClient: rlfClient,
        keyPrefix: `${prefix}uip`,
        points: 10,
        duration: 90 * 86400,
      });
      return {
        op: (ip, user) => Promise.all([byIp.consume(ip), byUserIp.consume(`${user}_${ip}`)]),
        close: async () => {},
        ipKey: new RegExp(`^${prefix}ip:`),
      };
    },
  },
  {
    // Not a detector: one round trip of an EVALSHA that returns at once, on the same kind of client —
    // the floor any one-script-per-call design pays on this machine, beside the sequential p50 goal.
    name: 'floor: EVALSHA of `return 1` (one round trip)',
    async setup() {
      const client = new Redis(url, { enableAutoPipelining: AUTO_PIPELINING });
      client.defineCommand('tgFloor', { numberOfKeys: 1, lua: 'return 1' });
      const floor = client as unknown as { tgFloor(key: string): Promise<number> };
      await floor.tgFloor('warm');
      return { op: (ip) => floor.tgFloor(ip), close: async () => client.disconnect(), ipKey: /^$/ };
    },
  },
];

const results: Record<
  string,
  { seq: Result[]; conc: Result[]; mem: { perIp: number; ipKeyOnly: number }[]; fallbacks: number }
> = {};
// Load from other jobs swings from run to run: each run's ratio is taken against the anchor of that run.
const ratios: Record<string, { conc: number[]; seq: number[] }> = {};
for (let run = 0; run < RUNS; run++) {
  const thisRun: Record<string, { conc: number; seq: number }> = {};
  for (const s of scenarios) {
    const prefix = `tgbench:${randomBytes(4).toString('hex')}:`;
    fallbacks = 0; // a fallback during the warm-up counts too
    const { op, close, ipKey } = await s.setup(prefix);
    const seq = await measure(op, SEQ_OPS, 1);
    const conc = await measure(op, OPS, CONCURRENCY);
    const mem = await memoryPerIp(admin, prefix, ipKey);
    await close();
    await cleanup(admin, prefix);
    (results[s.name] ??= { seq: [], conc: [], mem: [], fallbacks: 0 }).seq.push(seq);
    (results[s.name] as { fallbacks: number }).fallbacks += fallbacks;
    results[s.name]?.conc.push(conc);
    results[s.name]?.mem.push(mem);
    thisRun[s.name] = { conc: conc.opsPerSec, seq: seq.opsPerSec };
    console.error(
      `run ${run + 1} ${s.name}: seq ${seq.opsPerSec.toFixed(0)}/s p50 ${seq.p50us.toFixed(0)}µs p99 ${seq.p99us.toFixed(0)}µs | ` +
        `64x ${conc.opsPerSec.toFixed(0)}/s p50 ${conc.p50us.toFixed(0)}µs p99 ${conc.p99us.toFixed(0)}µs | ${mem.perIp.toFixed(0)} B/IP | fallbacks ${fallbacks}`,
    );
  }
  const a = thisRun[scenarios[1]!.name]!;
  for (const s of scenarios) {
    const r = (ratios[s.name] ??= { conc: [], seq: [] });
    r.conc.push(thisRun[s.name]!.conc / a.conc);
    r.seq.push(thisRun[s.name]!.seq / a.seq);
  }
}

const anchor = median(results[scenarios[1]!.name]!.conc.map((r) => r.opsPerSec));
const anchorSeq = median(results[scenarios[1]!.name]!.seq.map((r) => r.opsPerSec));
console.log(
  `\nmedians of ${RUNS} runs; auto-pipelining ${AUTO_PIPELINING ? 'on' : 'off'} (both clients); load average ${os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(
      ' ',
    )}; ${SEQ_OPS} sequential ops, ${OPS} ops at ${CONCURRENCY} concurrent; ${IPS} random IPs × ${ACCOUNTS} accounts\n`,
);
console.log(
  '| scenario | seq ops/s | seq p50 | seq p99 | 64× ops/s | 64× p50 | 64× p99 | vs RLF consume (64× / seq) | per-run ratio, median (64× / seq) | Redis bytes per tracked IP | fallbacks |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const s of scenarios) {
  const r = results[s.name]!;
  const m = (xs: Result[], k: keyof Result) => median(xs.map((x) => x[k]));
  console.log(
    `| ${s.name} | ${m(r.seq, 'opsPerSec').toFixed(0)} | ${m(r.seq, 'p50us').toFixed(0)} µs | ${m(r.seq, 'p99us').toFixed(0)} µs | ` +
      `${m(r.conc, 'opsPerSec').toFixed(0)} | ${m(r.conc, 'p50us').toFixed(0)} µs | ${m(r.conc, 'p99us').toFixed(0)} µs | ` +
      `${(m(r.conc, 'opsPerSec') / anchor).toFixed(2)}× / ${(m(r.seq, 'opsPerSec') / anchorSeq).toFixed(2)}× | ${median(ratios[s.name]!.conc).toFixed(2)}× / ${median(ratios[s.name]!.seq).toFixed(2)}× | ${median(r.mem.map((x) => x.perIp)).toFixed(0)} | ${r.fallbacks} |`,
  );
}
admin.disconnect();
rlfClient.disconnect();
