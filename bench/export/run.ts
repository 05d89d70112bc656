/**
 * Export memory benchmark: `trailguard export` (keyset pages, backpressure) against the anchor of
 * loading every row and serialising it in memory, on 1M login records in PostgreSQL. Each measurement
 * runs in its own child process so peak RSS is not polluted by the previous one.
 *
 *   TRAILGUARD_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node --import tsx bench/export/run.ts [rows] [runs]
 */
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { createTrailguard } from '../../src/index.ts';
import { toLoginRecord } from '../../src/logins/login-repository.ts';
import { loginOcsf } from '../../src/export/formats.ts';
import { createTestDatabase } from '../../test/helpers/backends.ts';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const args = process.argv.slice(2);
const mode = args[0] === 'worker' ? 'worker' : 'main';

function sampler(): { stop(): number } {
  let peak = process.memoryUsage().rss;
  const t = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  return {
    stop() {
      clearInterval(t);
      return Math.max(peak, process.memoryUsage().rss);
    },
  };
}

async function worker(kind: 'stream' | 'naive', url: string): Promise<void> {
  const tg = await createTrailguard({
    databaseUrl: url,
    logger: quiet,
    geo: false,
    alerts: { delivery: { enabled: false } },
  });
  let bytes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      cb();
    },
  });
  const baseline = process.memoryUsage().rss;
  const s = sampler();
  const started = performance.now();
  if (kind === 'stream') {
    await tg.export.write({ table: 'logins', format: 'ocsf' }, sink);
  } else {
    const all = await sql<
      Parameters<typeof toLoginRecord>[0]
    >`SELECT * FROM login_history ORDER BY login_at, id`.execute(tg.database.db);
    // Every line held at once (a single joined string does not even fit V8's limit at 1M rows).
    const lines = all.rows.flatMap((r) => loginOcsf(toLoginRecord(r))).map((e) => `${JSON.stringify(e)}\n`);
    for (const line of lines) sink.write(line);
  }
  const ms = performance.now() - started;
  const peak = s.stop();
  await tg.close();
  process.stdout.write(
    JSON.stringify({ kind, ms, bytes, peakMb: peak / 2 ** 20, baselineMb: baseline / 2 ** 20 }),
  );
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const rows = Number(args[0] ?? 1_000_000);
  const runs = Number(args[1] ?? 3);
  const db = await createTestDatabase();
  try {
    const tg = await createTrailguard({
      databaseUrl: db.url,
      logger: quiet,
      geo: false,
      alerts: { delivery: { enabled: false } },
    });
    const start = new Date('2026-01-01T00:00:00Z');
    await tg.internals.partitions.prepare('login_history', start, 3, 0);
    // 1M rows over ~2 months, a tenth failed, realistic field widths.
    await sql`
      INSERT INTO login_history (id, user_id, username, login_type, success, failure_reason, ip_address, user_agent,
        browser, browser_version, os, device_type, country, city, login_at, metadata)
      SELECT gen_random_uuid(), 'user-' || (i % 50000), 'user' || (i % 50000) || '@example.com', 'password',
        i % 10 <> 0, CASE WHEN i % 10 = 0 THEN 'invalid_password' END,
        ('10.' || (i % 250) || '.' || (i / 250 % 250) || '.' || (i % 200 + 1))::inet,
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
        'Chrome', '120.0', 'Windows', 'desktop', 'DE', 'Berlin',
        ${start}::timestamptz + (i * interval '5 seconds'), '{}'::jsonb
      FROM generate_series(1, ${rows}) AS i`.execute(tg.database.db);
    await tg.close();
    const self = fileURLToPath(import.meta.url);
    const results: Record<string, { ms: number[]; peakMb: number[]; baselineMb: number[]; bytes: number }> =
      {};
    for (let r = 0; r < runs; r++) {
      for (const kind of ['stream', 'naive'] as const) {
        const child = spawnSync(process.execPath, ['--import', 'tsx', self, 'worker', kind, db.url], {
          encoding: 'utf8',
          maxBuffer: 1 << 20,
          env: { ...process.env, NODE_OPTIONS: '--max-old-space-size=8192' },
        });
        if (child.status !== 0) throw new Error(`${kind} worker failed: ${child.stderr}`);
        const out = JSON.parse(child.stdout) as {
          ms: number;
          peakMb: number;
          baselineMb: number;
          bytes: number;
        };
        const acc = (results[kind] ??= { ms: [], peakMb: [], baselineMb: [], bytes: out.bytes });
        acc.ms.push(out.ms);
        acc.peakMb.push(out.peakMb);
        acc.baselineMb.push(out.baselineMb);
      }
    }
    const line = (k: string) => {
      const r = results[k]!;
      return `| ${k === 'stream' ? '`tg.export.write` (keyset pages)' : 'anchor: load all rows, then serialise'} | ${(median(r.ms) / 1000).toFixed(1)} s | ${Math.round(rows / (median(r.ms) / 1000)).toLocaleString('en')} rows/s | ${median(r.peakMb).toFixed(0)} MB | ${median(r.baselineMb).toFixed(0)} MB | ${(r.bytes / 2 ** 20).toFixed(0)} MB |`;
    };
    console.log(
      `rows: ${rows.toLocaleString('en')}, format: ocsf, runs: ${runs} (medians), node ${process.version}`,
    );
    console.log('| | time | throughput | peak RSS | RSS before export | output |');
    console.log('|---|---|---|---|---|---|');
    console.log(line('stream'));
    console.log(line('naive'));
    console.log(
      `peak RSS ratio anchor / stream: ${(median(results['naive']!.peakMb) / median(results['stream']!.peakMb)).toFixed(1)}×`,
    );
  } finally {
    await db.drop();
  }
}

if (mode === 'worker') await worker(args[1] as 'stream' | 'naive', args[2]!);
else await main();
