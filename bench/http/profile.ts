/**
 * Profiles the server process under `POST /api/v1/logins` batches: runs `server.ts` with
 * `node --cpu-prof`, drives it with autocannon, and prints where the CPU went — self time by area
 * (src/http, src/logins, src/security, fastify, pg, …) and the top functions.
 *
 *   node --import tsx bench/http/profile.ts [--duration 10] [--batch 100] [--connections 16] [--single]
 *   env: BENCH_DATABASE_URL (default the test server)
 */
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';

const args = process.argv.slice(2);
const arg = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const DURATION = arg('duration', 10);
const BATCH = args.includes('--single') ? 1 : arg('batch', 100);
const CONNECTIONS = arg('connections', BATCH === 1 ? 64 : 16);
const BASE_URL = process.env['BENCH_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

function area(url: string): string {
  if (url === '') return '(native / GC / idle)';
  const src = /\/src\/([a-z-]+)\//.exec(url);
  if (src && !url.includes('node_modules')) return `src/${src[1]}`;
  const mod = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (mod) return mod[1] ?? url;
  if (url.startsWith('node:')) return 'node internals';
  return url;
}

async function main(): Promise<void> {
  if (!existsSync(new URL('../../dist/http/server.js', import.meta.url)))
    throw new Error('bench/http runs the built server: run `npm run build` first');
  const name = `tg_prof_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: BASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(BASE_URL);
  url.pathname = `/${name}`;
  const dir = mkdtempSync(join(tmpdir(), 'tg-prof-'));
  const child = spawn(
    process.execPath,
    ['--cpu-prof', '--cpu-prof-dir', dir, new URL('./server.mjs', import.meta.url).pathname],
    {
      env: { ...process.env, BENCH_DATABASE_URL: url.toString(), TRAILGUARD_LOG_LEVEL: 'error' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout });
  const [ready] = (await once(lines, 'line')) as [string];
  const [, port, key] = ready.split(' ');
  let n = 0;
  const body = (b: number) =>
    JSON.stringify(
      Array.from({ length: BATCH }, (_, i) => ({
        username: `user${(b * BATCH + i) % 5000}@example.com`,
        userId: String((b * BATCH + i) % 5000),
        success: i % 7 !== 0,
        ip: `10.0.${b & 255}.${i & 255}`,
        userAgent:
          'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
      })),
    );
  const bodies = Array.from({ length: 50 }, (_, b) => body(b));
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/api/v1/logins`,
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    connections: CONNECTIONS,
    duration: DURATION,
    requests: [{ setupRequest: (req) => ({ ...req, body: bodies[n++ % bodies.length] ?? '' }) }],
  });
  child.kill('SIGTERM');
  await once(child, 'exit');
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();

  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no profile in ${dir}`);
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: ProfileNode[] };
  const total = profile.nodes.reduce((a, x) => a + (x.hitCount ?? 0), 0);
  const byArea = new Map<string, number>();
  const byFn = new Map<string, number>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    const { functionName, url: u, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      byArea.set('(idle)', (byArea.get('(idle)') ?? 0) + hits);
      continue;
    }
    const a = area(u);
    byArea.set(a, (byArea.get(a) ?? 0) + hits);
    const fn = `${functionName || '(anonymous)'} ${u.replace(/^.*\/(src|node_modules)\//, '$1/')}:${lineNumber + 1}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + hits);
  }
  const pct = (x: number) => `${((100 * x) / total).toFixed(1)} %`;
  process.stdout.write(
    `\n${Math.round(result.requests.average)} req/s × ${BATCH} = ${Math.round(result.requests.average * BATCH)} logins/s answered, p99 ${result.latency.p99} ms, non-2xx ${result.non2xx}\nprofile: ${join(dir, file)}\n\nself time by area\n`,
  );
  for (const [a, x] of [...byArea].sort((p, q) => q[1] - p[1]).slice(0, 20))
    process.stdout.write(`  ${pct(x).padStart(7)}  ${a}\n`);
  process.stdout.write('\ntop functions (self time)\n');
  for (const [f, x] of [...byFn].sort((p, q) => q[1] - p[1]).slice(0, 30))
    process.stdout.write(`  ${pct(x).padStart(7)}  ${f}\n`);
}

await main();
