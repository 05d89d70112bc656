/**
 * A private PostgreSQL cluster for tests that restart, stop or crash PostgreSQL (never the shared
 * one): a fresh data directory under /tmp, a free loopback port, the server's binaries from
 * PG_BIN (default /usr/lib/postgresql/15/bin). initdb and postgres refuse to run as root, so as root
 * (CI) every command runs as the `postgres` user through runuser, on a directory that user owns.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './redis-server.ts';

const run = promisify(execFile);
const BIN = process.env['PG_BIN'] ?? '/usr/lib/postgresql/15/bin';

export interface PrivatePostgres {
  port: number;
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication, loopback only). */
  url: string;
  /** `pg_ctl restart -m immediate`: every backend killed at once, crash recovery on start. */
  restartImmediate(): Promise<void>;
  /** `pg_ctl stop -m fast`: connections refused until start(). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the cluster (immediate) and removes its data directory; safe to call twice. */
  destroy(): Promise<void>;
}

/** Why a private cluster cannot be started here, or false. */
export function privatePostgresSkip(): string | false {
  if (process.platform !== 'linux') return 'private PostgreSQL clusters are set up for Linux only';
  for (const tool of ['initdb', 'pg_ctl'])
    if (!existsSync(join(BIN, tool)))
      return `${join(BIN, tool)} is missing (install postgresql, or set PG_BIN)`;
  if (process.getuid?.() === 0) {
    try {
      execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
      execFileSync('runuser', ['--help'], { stdio: 'ignore' });
    } catch {
      return 'running as root, and no postgres user or runuser to run PostgreSQL as';
    }
  }
  return false;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'tg-pg-'));
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const pgTool = (tool: string, args: string[]) =>
    asRoot
      ? run('runuser', ['-u', 'postgres', '--', join(BIN, tool), ...args], { timeout: 60_000 })
      : run(join(BIN, tool), args, { timeout: 60_000 });
  const port = await freePort();
  const ctl = (...args: string[]) => pgTool('pg_ctl', ['-D', data, '-w', '-t', '30', ...args]);
  let destroyed = false;

  async function ready(): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const c = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
      c.on('error', () => undefined);
      try {
        await c.connect();
        await c.query('SELECT 1');
        await c.end();
        return;
      } catch (err) {
        await c.end().catch(() => undefined);
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  const start = async () => {
    // Durability against a machine crash is not under test (the server process and PostgreSQL's
    // backends are what get killed), so fsync is off to keep the test fast on a busy machine.
    await ctl(
      '-l',
      join(dir, 'server.log'),
      '-o',
      `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off -c full_page_writes=off`,
      'start',
    );
    await ready();
  };
  try {
    await pgTool('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    await start();
  } catch (err) {
    await ctl('-m', 'immediate', 'stop').catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async restartImmediate() {
      // -l again: without it the new postmaster would hold pg_ctl's stdout open, and pg_ctl never returns.
      await ctl('-l', join(dir, 'server.log'), '-m', 'immediate', 'restart');
      await ready();
    },
    async stop() {
      await ctl('-m', 'fast', 'stop');
    },
    start,
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await ctl('-m', 'immediate', 'stop').catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
