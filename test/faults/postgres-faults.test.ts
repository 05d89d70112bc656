/**
 * `trailguard serve` (the built CLI, as a child process) on a private PostgreSQL cluster, under ingest
 * load from several clients that retry with their Idempotency-Keys, while PostgreSQL is restarted
 * (immediate), stopped for seconds and started, and the server itself is killed (SIGKILL) mid-batch
 * and started again. The server must survive the database faults, answer 503 with Retry-After (never
 * 500) while the database is away, recover by itself, and end with every item stored exactly once.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { privatePostgresSkip, startPrivatePostgres } from '../helpers/postgres-server.ts';
import type { PrivatePostgres } from '../helpers/postgres-server.ts';
import { freePort } from '../helpers/redis-server.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const CLI = join(ROOT, 'dist/cli/main.js');
const SKIP =
  privatePostgresSkip() || (existsSync(CLI) ? false : 'dist/cli/main.js is missing: run npm run build');

const CLIENTS = 6;
/** Items per batch; each client sends batches until the faults are over (a few thousand items in all). */
const ITEMS = 25;
const MAX_BATCHES = 200;
/** The server's Idempotency-Key lease, seconds: short, so retries after the kill take over soon. */
const LEASE_SECONDS = 2;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Server {
  child: ChildProcess;
  /** What the server printed on stdout (its error log lines among it). */
  out: string[];
}

describe('PostgreSQL restarts, outages and a killed server under ingest load', { skip: SKIP }, () => {
  let db: PrivatePostgres | null = null;
  let work = '';
  let port = 0;
  let key = '';
  let server: Server | null = null;
  const env = () => ({
    ...process.env,
    DATABASE_URL: db?.url ?? '',
    REDIS_URL: '',
    TRAILGUARD_CONFIG: join(work, 'config.json'),
    NODE_ENV: 'test',
  });

  async function startServer(): Promise<Server> {
    const child = spawn(
      process.execPath,
      [
        CLI,
        'serve',
        '--port',
        String(port),
        '--rate-limit-key',
        '10000000',
        '--idempotency-lease',
        String(LEASE_SECONDS),
      ],
      { env: env(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const out: string[] = [];
    child.stdout?.on('data', (d: Buffer) => out.push(d.toString()));
    child.stderr?.on('data', (d: Buffer) => out.push(d.toString()));
    // Generous: on a busy CI machine loading the server alone can take many seconds.
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`serve exited with ${child.exitCode}:\n${out.join('')}`);
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return { child, out };
      if (Date.now() > deadline) throw new Error(`serve did not start:\n${out.join('')}`);
      await sleep(100);
    }
  }

  async function killServer(): Promise<void> {
    const c = server?.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  }

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'tg-faults-'));
    // Event lines would fill the pipe with thousands of logins; the server's error log stays on.
    writeFileSync(join(work, 'config.json'), JSON.stringify({ securityLog: { enabled: false } }));
    db = await startPrivatePostgres();
    port = await freePort();
    const created = await promisify(execFile)(
      process.execPath,
      [CLI, 'keys', 'create', '--name', 'faults', '--scope', 'admin', '--json'],
      { env: env(), timeout: 60_000 },
    );
    key = (JSON.parse(created.stdout) as { secret: string }).secret;
    server = await startServer();
  });

  after(async () => {
    await killServer().catch(() => undefined);
    await db?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it(
    'survives, answers 503 with Retry-After during the outage, recovers, and stores every item exactly once',
    { timeout: 150_000 },
    async (t) => {
      const statuses = new Map<number, number>();
      let retryAfterMissing = 0;
      let networkErrors = 0;
      let done = false;
      let faultsOver = false;
      let aborted = false;
      let batches = 0;
      let inFlight = 0;
      const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
      const acknowledged = new Map<string, string>(); // username → id answered

      async function client(c: number): Promise<void> {
        for (let b = 0; b < MAX_BATCHES && !faultsOver; b++) {
          batches++;
          const items = Array.from({ length: ITEMS }, (_, i) => ({
            username: `c${c}-b${b}-i${i}`,
            success: i % 3 !== 0,
            ip: `10.${c}.${b}.${i + 1}`,
          }));
          const deadline = Date.now() + 120_000;
          for (;;) {
            if (aborted) return;
            if (Date.now() > deadline) throw new Error(`client ${c} batch ${b} never stored`);
            let res: Response;
            inFlight++;
            try {
              res = await fetch(`http://127.0.0.1:${port}/api/v1/logins`, {
                method: 'POST',
                headers: {
                  authorization: `Bearer ${key}`,
                  'content-type': 'application/json',
                  'idempotency-key': `c${c}-b${b}`,
                },
                body: JSON.stringify(items),
                signal: AbortSignal.timeout(20_000),
              });
            } catch {
              networkErrors++; // the server was killed, or is starting again
              await sleep(300);
              continue;
            } finally {
              inFlight--;
            }
            count(res.status);
            const body = (await res.json()) as { ids?: (string | null)[] };
            if (res.status === 503 && !res.headers.get('retry-after')) retryAfterMissing++;
            if (res.status === 201) {
              body.ids?.forEach((id, i) => acknowledged.set(`c${c}-b${b}-i${i}`, id ?? ''));
              await sleep(100);
              break;
            }
            // 503, 409 (the key is held by an attempt that is running or died) and 207 (partly
            // stored): retry the same request with the same key. Sooner than Retry-After: the test is short.
            await sleep(res.status === 409 ? 300 : 150);
          }
        }
      }

      const load = Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c))).finally(() => {
        done = true;
      });
      const alive = () => server?.child.exitCode === null && server.child.signalCode === null;
      const pgDb = db as PrivatePostgres;
      let outageLog = '';
      try {
        // 1. Every backend killed at once while batches are in flight.
        await sleep(700);
        await pgDb.restartImmediate();
        await sleep(300);
        assert.ok(alive(), `the server died on pg_ctl restart -m immediate:\n${server?.out.join('')}`);

        // 2. PostgreSQL away for seconds: 503 with Retry-After on writes and reads, /readyz says so.
        await sleep(800);
        await pgDb.stop();
        const probe = await fetch(`http://127.0.0.1:${port}/api/v1/logins`, {
          headers: { authorization: `Bearer ${key}` },
        });
        assert.equal(probe.status, 503);
        assert.equal(
          ((await probe.json()) as { error: { code: string } }).error.code,
          'DATABASE_UNAVAILABLE',
        );
        assert.ok(probe.headers.get('retry-after'));
        const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
        assert.equal(ready.status, 503);
        assert.equal(((await ready.json()) as { database: { status: string } }).database.status, 'down');
        await sleep(2500);
        assert.ok(alive(), `the server died while PostgreSQL was stopped:\n${server?.out.join('')}`);
        await pgDb.start();
        const back = Date.now() + 15_000;
        while ((await fetch(`http://127.0.0.1:${port}/readyz`)).status !== 200) {
          assert.ok(Date.now() < back, 'the server did not recover after PostgreSQL came back');
          await sleep(200);
        }
        assert.ok(alive());
        outageLog = server?.out.join('') ?? '';

        // 3. The server killed mid-batch, then started again on the same database.
        await sleep(600);
        // Mid-batch: while at least one request is being served.
        for (const until = Date.now() + 5000; inFlight === 0 && Date.now() < until;) await sleep(5);
        if (!done) {
          await killServer();
          server = await startServer();
        }

        await sleep(500);
        faultsOver = true;
        await load;
        assert.ok(alive());
      } catch (err) {
        // Stop the clients, so that a failure here is the one reported.
        aborted = true;
        await load.catch(() => undefined);
        throw err;
      }
      t.diagnostic(
        `${batches} batches of ${ITEMS}; answers ${JSON.stringify(Object.fromEntries(statuses))}; ${networkErrors} network errors`,
      );
      assert.equal(statuses.get(500) ?? 0, 0, `500s: ${JSON.stringify([...statuses])}`);
      assert.equal(retryAfterMissing, 0, 'a 503 came without Retry-After');
      assert.ok(
        (statuses.get(503) ?? 0) > 0 || networkErrors > 0,
        `no fault was seen: ${JSON.stringify([...statuses])}`,
      );
      // The cause of the 5xx answers was logged without --log, as JSON error lines.
      assert.match(outageLog, /"level":50/);
      assert.match(outageLog, /DATABASE_UNAVAILABLE/);

      const c = new pg.Client({ connectionString: pgDb.url });
      await c.connect();
      try {
        const perItem = await c.query<{ username: string; n: number }>(
          `SELECT username, count(*)::int AS n FROM login_history WHERE username ~ '^c[0-9]+-b' GROUP BY username`,
        );
        const stored = new Map(perItem.rows.map((r) => [r.username, r.n]));
        const duplicates = perItem.rows.filter((r) => r.n !== 1);
        assert.deepEqual(duplicates, [], 'items stored more than once');
        assert.equal(acknowledged.size, batches * ITEMS);
        const missing = [...acknowledged.keys()].filter((u) => stored.get(u) !== 1);
        assert.deepEqual(missing, [], 'acknowledged items not stored');
        // The ids answered are the rows stored.
        const ids = await c.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM login_history WHERE id = ANY($1::uuid[])',
          [[...acknowledged.values()]],
        );
        assert.equal(ids.rows[0]?.n, acknowledged.size);
      } finally {
        await c.end();
      }
    },
  );
});
