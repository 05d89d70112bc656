/**
 * bench/ui: server time of the admin UI's list and dashboard endpoints with 1,000,000 login records in
 * PostgreSQL. Seeds a scratch database with INSERT … SELECT generate_series (and the hourly rollup the
 * way login-repository.ts maintains it), then times each endpoint in process with `app.inject` (the
 * server's own time: routing, auth, validation, SQL, serialisation; no network) — medians of N runs.
 *
 *   node --import tsx bench/ui/run.ts [--rows 1000000] [--runs 15]
 *   env BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test): the server to create the
 *   scratch database on; it is dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { sql } from 'kysely';
import { createTrailguard } from '../../src/index.ts';
import { createServer } from '../../src/http/server.ts';
import { createAuthService } from '../../src/auth/auth-service.ts';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '15' },
    keep: { type: 'boolean', default: false },
  },
});
const ROWS = Number(values.rows);
const RUNS = Number(values.runs);
const BASE = process.env['BENCH_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const DAYS = 90;

const name = `tg_bench_ui_${randomBytes(4).toString('hex')}`;
async function admin(q: string): Promise<void> {
  const c = new pg.Client({ connectionString: BASE });
  await c.connect();
  try {
    await c.query(q);
  } finally {
    await c.end();
  }
}

await admin(`CREATE DATABASE ${name}`);
const url = new URL(BASE);
url.pathname = `/${name}`;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const tg = await createTrailguard({
  databaseUrl: url.toString(),
  logger: quiet,
  securityLog: { enabled: false },
});
try {
  const db = tg.database.db;
  const now = tg.config.clock.now();
  const months: Date[] = [];
  for (let d = 0; d <= DAYS + 31; d += 15) months.push(new Date(now.getTime() - d * 86_400_000));
  await tg.internals.partitions.ensure('login_history', months);

  const t0 = performance.now();
  // 1M attempts over 90 days: 50,000 users, ~70 % success, five device types, ten countries, a few
  // hundred thousand distinct addresses; the same shape login-repository.ts writes.
  await sql`
    INSERT INTO login_history (id, user_id, username, login_type, success, failure_reason, ip_address, user_agent,
      browser, browser_version, os, device_type, country, city, login_at, metadata)
    SELECT
      gen_random_uuid(),
      'u' || (g % 50000),
      'user' || (g % 50000) || '@example.com',
      (ARRAY['password','sso','oauth','magic_link','passkey','api_key','jwt'])[1 + (g % 7)],
      (g % 10) < 7,
      CASE WHEN (g % 10) < 7 THEN NULL ELSE 'invalid_password' END,
      ('10.' || ((g / 65536) % 256) || '.' || ((g / 256) % 256) || '.' || (g % 256))::inet,
      (ARRAY['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36',
             'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Version/18.1 Mobile/15E148 Safari/604.1',
             'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
             'curl/8.5.0'])[1 + (g % 4)],
      (ARRAY['Chrome','Mobile Safari','Firefox',NULL])[1 + (g % 4)],
      '1.0',
      (ARRAY['Windows','iOS','Linux',NULL])[1 + (g % 4)],
      (ARRAY['desktop','mobile','desktop','bot','tablet'])[1 + (g % 5)],
      (ARRAY['DE','US','FR','GB','NL','ES','IT','BR','IN','JP'])[1 + (g % 10)],
      NULL,
      ${now}::timestamptz - make_interval(secs => (g::double precision / ${ROWS}) * ${DAYS} * 86400),
      '{}'::jsonb
    FROM generate_series(1, ${ROWS}) AS g`.execute(db);
  await sql`
    INSERT INTO login_rollup_hourly AS r (hour, success, login_type, device_type, country, shard, count)
    SELECT date_trunc('hour', login_at, 'UTC'), success, login_type, device_type, coalesce(country, ''), 0, count(*)
    FROM login_history GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (hour, success, login_type, device_type, country, shard) DO UPDATE SET count = r.count + excluded.count`.execute(
    db,
  );
  await sql`
    INSERT INTO login_rollup_daily (day, success, login_type, device_type, country, shard, count)
    SELECT date_trunc('day', hour, 'UTC'), success, login_type, device_type, country, 0, sum(count)
    FROM login_rollup_hourly GROUP BY 1, 2, 3, 4, 5`.execute(db);
  await sql`ANALYZE`.execute(db);
  const seeded = Math.round(performance.now() - t0);

  const auth = createAuthService({ db, clock: tg.config.clock });
  const app = await createServer(tg, { auth, rateLimit: false, processMetrics: false, webRoot: false });
  await app.ready();
  const key = (await auth.apiKeys.create({ name: 'bench', scope: 'read' })).secret;
  const headers = { authorization: `Bearer ${key}` };

  const first = await app.inject({ method: 'GET', url: '/api/v1/logins?limit=50', headers });
  const cursor = (first.json() as { nextCursor: string }).nextCursor;
  const day = new Date(now.getTime() - 3 * 86_400_000);
  const dayFrom = new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate()));
  const dayTo = new Date(dayFrom.getTime() + 86_400_000);
  const endpoints: [string, string][] = [
    ['dashboard', '/api/v1/dashboard'],
    ['logins, first page', '/api/v1/logins?limit=50'],
    ['logins, next page (cursor)', `/api/v1/logins?limit=50&cursor=${cursor}`],
    ['logins, failed only', '/api/v1/logins?limit=50&success=false'],
    ['logins, device + country', '/api/v1/logins?limit=50&deviceType=tablet&country=JP'],
    ['logins, login type', '/api/v1/logins?limit=50&loginType=passkey'],
    [
      'logins, one day (drill-down)',
      `/api/v1/logins?limit=50&from=${dayFrom.toISOString()}&to=${dayTo.toISOString()}`,
    ],
    ['logins, IP', '/api/v1/logins?limit=50&ip=10.3.4.5'],
    ['logins, CIDR /16', '/api/v1/logins?limit=50&ip=10.2.0.0%2F16'],
    ['logins, username', '/api/v1/logins?limit=50&username=user4242@example.com'],
    ['logins, search (common: "firefox")', '/api/v1/logins?limit=50&search=firefox'],
    ['logins, search (rare: "user4242@")', '/api/v1/logins?limit=50&search=user4242%40'],
    [
      'logins, search rare + 1 day',
      `/api/v1/logins?limit=50&search=user4242%40&from=${dayFrom.toISOString()}&to=${dayTo.toISOString()}`,
    ],
    ['logins, 1,000 of one IP (IP page)', '/api/v1/logins?limit=1000&ip=10.3.4.5'],
    ['logins, 1,000 of one user (user page)', '/api/v1/logins?limit=1000&username=user4242@example.com'],
    ['signals (dashboard card, signals view)', '/api/v1/signals'],
    ['change report 30 d (dashboard)', '/api/v1/reports/changes'],
    [
      'change report 90 d (dashboard)',
      `/api/v1/reports/changes?from=${new Date(now.getTime() - 90 * 86_400_000).toISOString()}`,
    ],
    ['security events, first page', '/api/v1/security-events?limit=50'],
    ['changes, first page', '/api/v1/changes?limit=50'],
    ['calendar, years', '/api/v1/logins/calendar'],
    ['calendar, months of a year', `/api/v1/logins/calendar?year=${now.getUTCFullYear()}`],
    [
      'calendar, days of a month',
      `/api/v1/logins/calendar?year=${now.getUTCFullYear()}&month=${now.getUTCMonth() + 1}`,
    ],
  ];

  const rows: { name: string; median: number; p95: number; status: number }[] = [];
  for (const [label, path] of endpoints) {
    const times: number[] = [];
    let status = 0;
    for (let i = 0; i < RUNS + 2; i++) {
      const t = performance.now();
      const res = await app.inject({ method: 'GET', url: path, headers });
      const ms = performance.now() - t;
      status = res.statusCode;
      if (i >= 2) times.push(ms); // two warm-ups
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)] ?? 0;
    const p95 = times[Math.min(times.length - 1, Math.floor(times.length * 0.95))] ?? 0;
    rows.push({ name: label, median, p95, status });
  }

  // A rare search is answered a time-budgeted page at a time: what it costs to follow it to the end.
  const follow: { pages: number; totalMs: number; slowestMs: number; found: number }[] = [];
  for (let run = 0; run < 3; run++) {
    let cursor: string | null = null;
    let pages = 0;
    let found = 0;
    let slowestMs = 0;
    const started = performance.now();
    do {
      const t = performance.now();
      const res = await app.inject({
        method: 'GET',
        url: `/api/v1/logins?limit=50&search=user4242%40${cursor ? `&cursor=${cursor}` : ''}`,
        headers,
      });
      slowestMs = Math.max(slowestMs, performance.now() - t);
      const page = res.json() as { items: unknown[]; nextCursor: string | null };
      found += page.items.length;
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null && found < 50);
    follow.push({ pages, totalMs: performance.now() - started, slowestMs, found });
  }
  await app.close();

  console.log(
    `bench/ui: ${ROWS.toLocaleString('en')} login records over ${DAYS} days in PostgreSQL (seeded in ${seeded} ms); ${RUNS} runs per endpoint, app.inject\n`,
  );
  console.log('| endpoint | median ms | p95 ms | ≤ 100 ms |');
  console.log('| --- | ---: | ---: | :---: |');
  for (const r of rows)
    console.log(
      `| ${r.name}${r.status === 200 ? '' : ` (HTTP ${r.status})`} | ${r.median.toFixed(1)} | ${r.p95.toFixed(1)} | ${r.median <= 100 ? 'yes' : '**no**'} |`,
    );
  const f = follow.sort((a, b) => a.totalMs - b.totalMs)[1] ?? follow[0];
  if (f)
    console.log(
      `\nrare search followed page by page until 50 matches or the end (median of 3): ${f.pages} pages, ${f.found} matches, ${f.totalMs.toFixed(0)} ms in all, slowest page ${f.slowestMs.toFixed(1)} ms`,
    );
} finally {
  await tg.close();
  if (values.keep) console.log(`\nkept the scratch database ${name} (--keep); drop it when done`);
  else await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}
