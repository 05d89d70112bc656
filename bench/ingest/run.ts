/**
 * bench/ingest — committed login records per second through `tg.logins.record()` with N concurrent
 * callers, beside two anchors measured in the same run against the same table:
 *   (a) one plain INSERT per call (N concurrent callers, pool of 10 connections), and
 *   (b) the server-side ceiling: one INSERT … SELECT of the same rows from a staging table.
 *
 * Usage (after `npm run build`): node --import tsx bench/ingest/run.ts [--backend postgres|pglite|both] [--runs 3]
 *        [--records 40000] [--concurrency 64,1024] [--pipeline login|full]
 * env BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test): a scratch database is
 * created next to it and dropped afterwards.
 */
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import pg from 'pg';
import { sql } from 'kysely';
import { existsSync } from 'node:fs';
import type { Trailguard, TrailguardOptions, createTrailguard as CreateTrailguard } from '../../src/index.ts';

// The built package, as users run it (the TypeScript sources through tsx carry a little overhead).
if (!existsSync(new URL('../../dist/index.js', import.meta.url))) {
  console.error('bench/ingest measures the built package: run `npm run build` first');
  process.exit(1);
}
const { createTrailguard } = (await import('../../dist/index.js')) as unknown as {
  createTrailguard: typeof CreateTrailguard;
};

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'both' },
    runs: { type: 'string', default: '3' },
    records: { type: 'string', default: '40000' },
    concurrency: { type: 'string', default: '64,1024' },
    pipeline: { type: 'string', default: 'login' },
  },
});
const RUNS = Number(args.runs);
const RECORDS = Number(args.records);
const CONCURRENCY = String(args.concurrency).split(',').map(Number);
const ADMIN_URL = process.env['BENCH_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

// "login": login history alone (detection and security events off) — what issue 2 asks for.
// "full": the default pipeline: login_failed/login_success events stored, detection in process.
const PIPELINE: TrailguardOptions =
  args.pipeline === 'full'
    ? { securityLog: { destination: '/dev/null' } }
    : {
        securityLog: { enabled: false },
        detection: { enabled: false, newCountry: false, impossibleTravel: false },
      };

const UAS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36',
];

function input(i: number) {
  return {
    username: `user${i % 5000}@example.com`,
    userId: String(i % 5000),
    success: i % 5 !== 0,
    ip: `${1 + (i % 200)}.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}`,
    userAgent: UAS[i % UAS.length] ?? '',
    metadata: { app: 'bench' },
  };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

interface Result {
  rps: number;
  p50: number;
  p99: number;
}

/** N workers each issue calls back to back until `total` calls are done. */
async function closedLoop(total: number, n: number, call: (i: number) => Promise<unknown>): Promise<Result> {
  const lat: number[] = new Array(total);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: n }, async () => {
      for (let i = next++; i < total; i = next++) {
        const t = performance.now();
        await call(i);
        lat[i] = performance.now() - t;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  lat.sort((a, b) => a - b);
  return { rps: total / elapsed, p50: pct(lat, 50), p99: pct(lat, 99) };
}

async function rowCount(tg: Trailguard): Promise<number> {
  const r = await sql<{ n: number }>`SELECT count(*)::int AS n FROM login_history`.execute(tg.database.db);
  return r.rows[0]?.n ?? 0;
}

async function truncate(tg: Trailguard): Promise<void> {
  await sql`TRUNCATE login_history, login_rollup_hourly, login_rollup_daily`.execute(tg.database.db);
  await sql`TRUNCATE security_event_rows`.execute(tg.database.db);
}

async function benchRecord(tg: Trailguard, n: number, total: number): Promise<Result> {
  await truncate(tg);
  const r = await closedLoop(total, n, (i) => tg.logins.record(input(i)));
  const stored = await rowCount(tg);
  if (stored !== total) throw new Error(`expected ${total} committed rows, found ${stored}`);
  return r;
}

async function benchPlainInsert(
  tg: Trailguard,
  pool: pg.Pool | null,
  n: number,
  total: number,
): Promise<Result> {
  await truncate(tg);
  const now = new Date();
  const r = await closedLoop(total, n, async (i) => {
    const v = input(i);
    const params = [
      randomUuid(),
      v.userId,
      v.username,
      'password',
      v.success,
      v.ip,
      v.userAgent,
      'desktop',
      now,
      JSON.stringify(v.metadata),
    ];
    const text = `INSERT INTO login_history (id, user_id, username, login_type, success, ip_address, user_agent, device_type, login_at, metadata)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`;
    if (pool) await pool.query(text, params);
    else
      await sql
        .raw(text.replace(/\$(\d+)/g, (_m, k: string) => lit(params[Number(k) - 1])))
        .execute(tg.database.db);
  });
  return r;
}

/** The ceiling: the same number of rows moved server-side in one statement. */
async function benchCeiling(tg: Trailguard, total: number): Promise<Result> {
  await truncate(tg);
  const db = tg.database.db;
  await sql`DROP TABLE IF EXISTS bench_staging`.execute(db);
  await sql`CREATE TABLE bench_staging (LIKE login_history)`.execute(db);
  // The same columns record() fills (enrichment included), so the comparison is like for like.
  // The login's own event too (its severity, and a failure's detection counts), as record() stores it.
  await sql`INSERT INTO bench_staging (id, user_id, username, login_type, success, failure_reason, ip_address,
      user_agent, browser, browser_version, os, device_type, country, login_at, metadata, event_severity,
      event_context)
    SELECT gen_random_uuid(), (g % 5000)::text, 'user' || (g % 5000) || '@example.com', 'password', g % 5 <> 0,
      CASE WHEN g % 5 = 0 THEN 'invalid_password' END,
      ((1 + g % 200) || '.' || ((g >> 8) & 255) || '.' || (g & 255) || '.' || ((g * 7) & 255))::inet,
      ${UAS[0]}, 'Chrome', '131.0.0.0', 'Windows 10', 'desktop', 'US', now(), '{"app":"bench"}'::jsonb,
      CASE WHEN g % 5 = 0 THEN 'warning' ELSE 'info' END,
      CASE WHEN g % 5 = 0 THEN '{"is_suspicious": false, "unique_ips_for_email": 0, "unique_emails_from_ip": 0,
        "failed_attempts_from_ip": 0}'::jsonb END
    FROM generate_series(0, ${total - 1}) AS g`.execute(db);
  const t = performance.now();
  await sql`INSERT INTO login_history SELECT * FROM bench_staging`.execute(db);
  const seconds = (performance.now() - t) / 1000;
  await sql`DROP TABLE bench_staging`.execute(db);
  return { rps: total / seconds, p50: NaN, p99: NaN };
}

function randomUuid(): string {
  const b = randomBytes(16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
function lit(v: unknown): string {
  if (v instanceof Date) return `'${v.toISOString()}'`;
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  return `'${String(v).replace(/'/g, "''")}'`;
}

async function scratchDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `tg_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

const fmt = (r: number) =>
  Number.isNaN(r) ? '—' : r >= 100 ? Math.round(r).toLocaleString('en-US') : r.toFixed(1);

async function runBackend(backend: 'postgres' | 'pglite'): Promise<void> {
  const total = backend === 'pglite' ? Math.min(RECORDS, 20_000) : RECORDS;
  const scratch = backend === 'postgres' ? await scratchDatabase() : null;
  const tg = await createTrailguard({
    ...(scratch ? { databaseUrl: scratch.url } : { dataDir: 'memory://' }),
    logger: quiet,
    ...PIPELINE,
  });
  const pool = scratch ? new pg.Pool({ connectionString: scratch.url, max: 10 }) : null;
  // Dropping the scratch database (WITH FORCE) ends any connection still open; that must not crash the
  // bench after its figures are printed (it did once, in a teardown race).
  pool?.on('error', () => undefined);
  try {
    // Warm-up: JIT, UA cache, connections, partitions.
    await closedLoop(2000, 64, (i) => tg.logins.record(input(i)));
    const rows: string[] = [];
    const ceilings: number[] = [];
    for (let r = 0; r < RUNS; r++) ceilings.push((await benchCeiling(tg, total)).rps);
    const ceiling = median(ceilings);
    rows.push(`| (b) ceiling: INSERT … SELECT, one statement | — | ${fmt(ceiling)} | — | — | 100% |`);
    for (const n of CONCURRENCY) {
      const rec: Result[] = [];
      const plain: Result[] = [];
      for (let r = 0; r < RUNS; r++) {
        rec.push(await benchRecord(tg, n, total));
        plain.push(await benchPlainInsert(tg, pool, n, Math.min(total, 20_000)));
      }
      const m = (xs: Result[], k: keyof Result) => median(xs.map((x) => x[k]));
      rows.push(
        `| tg.logins.record() | ${n} | ${fmt(m(rec, 'rps'))} | ${fmt(m(rec, 'p50'))} | ${fmt(m(rec, 'p99'))} | ${((m(rec, 'rps') / ceiling) * 100).toFixed(0)}% |`,
      );
      rows.push(
        `| (a) one plain INSERT per call | ${n} | ${fmt(m(plain, 'rps'))} | ${fmt(m(plain, 'p50'))} | ${fmt(m(plain, 'p99'))} | ${((m(plain, 'rps') / ceiling) * 100).toFixed(0)}% |`,
      );
    }
    console.log(
      `\n### ${backend} — pipeline "${String(args.pipeline)}", ${total} records per run, median of ${RUNS} runs, load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}\n`,
    );
    console.log('| writer | concurrent callers | committed records/s | p50 ms | p99 ms | of ceiling (b) |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const row of rows) console.log(row);
  } finally {
    await pool?.end();
    await tg.close();
    await scratch?.drop();
  }
}

const backends =
  args.backend === 'both' ? (['postgres', 'pglite'] as const) : ([args.backend] as ('postgres' | 'pglite')[]);
for (const b of backends) await runBackend(b);
