/**
 * Opens the system of record: PGlite (embedded, the default) or PostgreSQL through `pg`, behind one
 * Kysely instance, with int8 parsed to the same JS type on both and migrations applied.
 * @module
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { TrailguardError } from '../domain/errors.ts';
import type { Database } from './schema.ts';
import { acquireDirLock } from './dir-lock.ts';
import type { DirLock } from './dir-lock.ts';
import { migrateToLatest } from './migrator.ts';

/** Which backend is in use. */
export type Backend = 'pglite' | 'postgres';

/** An open database. */
export interface DatabaseHandle {
  db: Kysely<Database>;
  backend: Backend;
  /** Where the data lives, with any password redacted. */
  location: string;
  /** Parallel writers the backend can use (PGlite has one connection). */
  maxConcurrentWrites: number;
  /** How group commit sizes batches for this backend (see createGroupCommitter). */
  batching: { maxBatch: number; minOverlap: number };
  close(): Promise<void>;
}

/** Where to open the database. */
export interface DatabaseOptions {
  /** A `postgres://` URL; when set, PostgreSQL is used. */
  databaseUrl?: string | undefined;
  /** PGlite data directory, or `memory://` for a throwaway database. @default ./.trailguard/db */
  dataDir?: string | undefined;
  /** Apply pending migrations on open. @default true */
  migrate?: boolean | undefined;
  /** Connection pool size for PostgreSQL. @default 10 */
  poolSize?: number | undefined;
}

/** Default embedded data directory. */
export const DEFAULT_DATA_DIR = './.trailguard/db';

/** `postgres://user:secret@host/db` → `postgres://user:***@host/db`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const key of [...u.searchParams.keys()]) {
      if (/pass|secret|key|token/i.test(key)) u.searchParams.set(key, '***');
    }
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
  }
}

const parseInt8 = (v: string): number => Number(v);

/** Opens (and by default migrates) the database. */
export async function openDatabase(options: DatabaseOptions = {}): Promise<DatabaseHandle> {
  const handle = options.databaseUrl
    ? await openPostgres(options.databaseUrl, options.poolSize ?? 10)
    : await openPglite(options.dataDir ?? DEFAULT_DATA_DIR);
  if (options.migrate !== false) {
    try {
      await migrateToLatest(handle.db);
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
  }
  return handle;
}

async function openPostgres(url: string, poolSize: number): Promise<DatabaseHandle> {
  const location = redactUrl(url);
  if (!/^postgres(ql)?:\/\//i.test(url)) {
    throw new TrailguardError('CONFIG_INVALID', `databaseUrl: expected a postgres:// URL, got ${location}`, {
      field: 'databaseUrl',
    });
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: 10_000,
    // Per-pool parsers, so the host application's global pg type parsers are left alone.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === 20
          ? parseInt8
          : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // A lost connection (server restart, network cut) emits 'error' on its client. The pool listens on
  // idle clients only; a client checked out for a query in flight has no listener, and an unhandled
  // 'error' event kills the host process. With one on every client the query in flight rejects (a
  // typed error for its caller, see isDatabaseUnavailable) and the pool discards the dead client.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  try {
    const client = await pool.connect();
    client.release();
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new TrailguardError(
      'DATABASE_UNREACHABLE',
      `cannot connect to PostgreSQL at ${location}: ${(err as Error).message}`,
      {
        field: 'databaseUrl',
        cause: err,
      },
    );
  }
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    backend: 'postgres',
    location,
    maxConcurrentWrites: Math.max(1, Math.min(4, poolSize - 1)),
    // A 500-row login batch (with its events) keeps one backend busy ~30 ms; two or more overlapping
    // keep both of PostgreSQL's cores and the client busy, where one 1000-row batch at a time left
    // each side waiting for the other (bench/ingest: 9,900 → 15,700 records/s at 1,024 callers).
    batching: { maxBatch: 500, minOverlap: 100 },
    close: () => db.destroy(),
  };
}

async function openPglite(dataDir: string): Promise<DatabaseHandle> {
  const inMemory = dataDir.startsWith('memory://');
  const location = inMemory ? dataDir : resolve(dataDir);
  let lock: DirLock | null = null;
  if (!inMemory) {
    try {
      mkdirSync(location, { recursive: true });
    } catch (err) {
      throw new TrailguardError(
        'DATABASE_UNREACHABLE',
        `cannot create the data directory ${location}: ${(err as Error).message}`,
        {
          field: 'dataDir',
          cause: err,
        },
      );
    }
    lock = acquireDirLock(location);
  }
  let client: PGlite;
  try {
    client = new PGlite(inMemory ? undefined : location, { parsers: { 20: parseInt8 } });
    await client.waitReady;
  } catch (err) {
    lock?.release();
    throw new TrailguardError(
      'DATABASE_UNREACHABLE',
      `cannot open the embedded database at ${location}: ${(err as Error).message}`,
      {
        field: 'dataDir',
        cause: err,
      },
    );
  }
  const db = new Kysely<Database>({ dialect: new PGliteDialect(client) });
  await sql`SET TIME ZONE 'UTC'`.execute(db);
  return {
    db,
    backend: 'pglite',
    location,
    maxConcurrentWrites: 1,
    batching: { maxBatch: 1000, minOverlap: 1000 },
    close: async () => {
      try {
        await db.destroy();
      } finally {
        lock?.release();
      }
    },
  };
}
