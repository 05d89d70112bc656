/**
 * `bench/http`: autocannon against `POST /api/v1/logins` on PostgreSQL — single logins and batches —
 * through one server process. Reports committed events/s (rows counted in the database, not requests
 * answered) and request p99; medians of several runs.
 *
 *   node --import tsx bench/http/run.ts [--runs 3] [--duration 10]
 *   env: BENCH_DATABASE_URL (a server to create a throwaway database on; default the test server)
 */
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { loadavg } from 'node:os';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import pg from 'pg';

const args = process.argv.slice(2);
const arg = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const RUNS = arg('runs', 3);
const DURATION = arg('duration', 10);
const BASE_URL = process.env['BENCH_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
};

function login(i: number) {
  return {
    username: `user${i % 5000}@example.com`,
    userId: String(i % 5000),
    success: i % 7 !== 0,
    ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    userAgent:
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  };
}

async function rowCount(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ n: string }>('SELECT count(*) AS n FROM login_history');
    return Number(r.rows[0]?.n ?? 0);
  } finally {
    await c.end();
  }
}

async function main(): Promise<void> {
  if (!existsSync(new URL('../../dist/http/server.js', import.meta.url)))
    throw new Error('bench/http runs the built server: run `npm run build` first');
  const name = `tg_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: BASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(BASE_URL);
  url.pathname = `/${name}`;
  const dbUrl = url.toString();

  const child = spawn(process.execPath, [new URL('./server.mjs', import.meta.url).pathname], {
    env: { ...process.env, BENCH_DATABASE_URL: dbUrl, TRAILGUARD_LOG_LEVEL: 'error' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const [ready] = (await once(lines, 'line')) as [string];
  const [, port, key] = ready.split(' ');
  const target = `http://127.0.0.1:${port}/api/v1/logins`;
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };

  const single = Array.from({ length: 2000 }, (_, i) => JSON.stringify(login(i)));
  const BATCH = 100;
  const batches = Array.from({ length: 50 }, (_, b) =>
    JSON.stringify(Array.from({ length: BATCH }, (_, i) => login(b * BATCH + i))),
  );

  const scenarios = [
    { name: `single (1 login/request, 64 connections)`, connections: 64, bodies: single, per: 1 },
    { name: `batch (${BATCH} logins/request, 16 connections)`, connections: 16, bodies: batches, per: BATCH },
  ];
  const results: {
    name: string;
    eventsPerSec: number[];
    p99: number[];
    reqPerSec: number[];
    errors: number[];
  }[] = [];
  // Other processes on the machine skew every figure: record the 1-minute load average.
  const loadStart = loadavg()[0] ?? 0;
  // Warm-up: JIT, pool connections, partitions.
  await autocannon({
    url: target,
    method: 'POST',
    headers,
    body: single[0] ?? '',
    connections: 16,
    duration: 2,
  });

  for (const sc of scenarios) {
    const r = {
      name: sc.name,
      eventsPerSec: [] as number[],
      p99: [] as number[],
      reqPerSec: [] as number[],
      errors: [] as number[],
    };
    for (let run = 0; run < RUNS; run++) {
      const before = await rowCount(dbUrl);
      let n = 0;
      const started = performance.now();
      const result = await autocannon({
        url: target,
        method: 'POST',
        headers,
        connections: sc.connections,
        duration: DURATION,
        requests: [
          {
            setupRequest: (req) => ({ ...req, body: sc.bodies[n++ % sc.bodies.length] ?? '' }),
          },
        ],
      });
      const seconds = (performance.now() - started) / 1000;
      const committed = (await rowCount(dbUrl)) - before;
      r.eventsPerSec.push(committed / seconds);
      r.p99.push(result.latency.p99);
      r.reqPerSec.push(result.requests.average);
      r.errors.push(result.non2xx + result.errors);
      process.stderr.write(
        `  ${sc.name} run ${run + 1}: ${Math.round(committed / seconds)} events/s committed, p99 ${result.latency.p99} ms, ${Math.round(result.requests.average)} req/s, non-2xx ${result.non2xx}, errors ${result.errors}\n`,
      );
    }
    results.push(r);
  }

  const loadEnd = loadavg()[0] ?? 0;
  child.kill('SIGTERM');
  await once(child, 'exit');
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();

  process.stdout.write(
    `\nbench/http — POST /api/v1/logins on PostgreSQL, one server process, ${RUNS} runs × ${DURATION} s, medians\n`,
  );
  process.stdout.write(
    '| scenario | committed events/s | request p99 (ms) | requests/s | non-2xx + errors |\n|---|---|---|---|---|\n',
  );
  for (const r of results) {
    process.stdout.write(
      `| ${r.name} | ${Math.round(median(r.eventsPerSec))} | ${median(r.p99)} | ${Math.round(median(r.reqPerSec))} | ${r.errors.reduce((a, b) => a + b, 0)} |\n`,
    );
  }
  process.stdout.write(
    `load average (1 min): ${loadStart.toFixed(2)} at the start, ${loadEnd.toFixed(2)} at the end\n` +
      `goal: ≥ 10,000 committed events/s through one instance\n`,
  );
}

await main();
