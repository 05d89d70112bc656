import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { createTestDatabase, forEachBackend } from '../../test/helpers/backends.ts';
import { createTrailguard } from '../trailguard.ts';
import { parseHead } from './integrity-command.ts';

// The built bin when `npm test` has built it (a fraction of tsx's start-up time); the source otherwise.
const BUILT = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const CLI = existsSync(BUILT)
  ? [BUILT]
  : ['--import', import.meta.resolve('tsx'), fileURLToPath(new URL('./main.ts', import.meta.url))];
const KEY = 'cli-integrity-key-0123456789abcdef';
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('parseHead', () => {
  it('reads <seq>:<hash> and rejects anything else', () => {
    const hash = 'a'.repeat(64);
    assert.deepEqual(parseHead(`12:${hash}`), { seq: 12, hash });
    assert.throws(() => parseHead('12'), { field: '--expect-head' });
  });
});

forEachBackend('trailguard integrity (CLI)', (backend) => {
  let where: { databaseUrl: string } | { dataDir: string };
  let globalArgs: string[];
  let cleanup: () => Promise<void>;
  let head = '';

  function run(args: string[]): Promise<Run> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [...CLI, ...globalArgs, ...args],
        { env: { ...process.env, TRAILGUARD_INTEGRITY_KEY: KEY }, timeout: 120_000 },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          resolve({ code, stdout: String(stdout), stderr: String(stderr) });
        },
      );
    });
  }

  async function withDb(fn: (tg: Awaited<ReturnType<typeof createTrailguard>>) => Promise<void>) {
    const tg = await createTrailguard({
      ...where,
      logger: quiet,
      geo: false,
      securityLog: { enabled: false },
      integrity: { key: KEY },
    });
    try {
      await fn(tg);
    } finally {
      await tg.close();
    }
  }

  before(async () => {
    if (backend === 'postgres') {
      const db = await createTestDatabase();
      where = { databaseUrl: db.url };
      globalArgs = ['--database-url', db.url];
      cleanup = () => db.drop();
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'tg-integrity-cli-'));
      where = { dataDir: join(dir, 'db') };
      globalArgs = ['--data-dir', join(dir, 'db')];
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
    }
    await withDb(async (tg) => {
      for (const success of [true, false, true]) {
        await tg.logins.record({ username: 'cli@example.test', success, ip: '203.0.113.7' });
      }
      await tg.logins.flush();
    });
    await sleep(5);
  });
  after(() => cleanup?.());

  it('seals and prints the head, then verifies intact with exit code 0', async () => {
    const sealed = await run(['integrity', 'seal', '--settle', '0']);
    assert.equal(sealed.code, 0, sealed.stderr);
    assert.match(sealed.stdout, /sealed login_history: 3 row\(s\)/);
    const m = /^head (\d+:[0-9a-f]{64})$/m.exec(sealed.stdout);
    assert.ok(m, sealed.stdout);
    head = m[1] as string;
    const verified = await run(['integrity', 'verify', '--expect-head', head]);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(verified.stdout, /^intact: 4 chain entries/);
    assert.match(verified.stdout, /login_history: 3 sealed row\(s\) checked/);
  });

  it('exits 2 with a readable report, or a JSON one, when a sealed row was changed', async () => {
    await withDb(async (tg) => {
      await sql`UPDATE login_history SET success = NOT success WHERE success = false`.execute(tg.database.db);
    });
    const text = await run(['integrity', 'verify']);
    assert.equal(text.code, 2, text.stdout + text.stderr);
    assert.match(text.stdout, /^NOT INTACT: 1 problem/);
    assert.match(
      text.stdout,
      /range_mismatch: login_history rows recorded .* expected 3, found 3: the same number of rows with different content/,
    );
    const json = await run(['integrity', 'verify', '--json', '--stream', 'login_history']);
    assert.equal(json.code, 2);
    const report = JSON.parse(json.stdout) as { ok: boolean; problems: { kind: string; stream: string }[] };
    assert.equal(report.ok, false);
    assert.deepEqual(
      report.problems.map((p) => [p.kind, p.stream]),
      [['range_mismatch', 'login_history']],
    );
  });

  it('refuses an unknown stream', async () => {
    const r = await run(['integrity', 'verify', '--stream', 'alert']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--stream: must be one of/);
  });
});
