/**
 * The same suite, every backend: `forEachBackend` runs a describe block on PGlite always and on
 * PostgreSQL when TRAILGUARD_TEST_DATABASE_URL is set (each suite in a fresh, dropped-after database).
 */
import { describe } from 'node:test';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createTrailguard } from '../../src/index.ts';
import type { Trailguard, TrailguardOptions } from '../../src/index.ts';

export type BackendName = 'pglite' | 'postgres';

export const TEST_DATABASE_URL = process.env['TRAILGUARD_TEST_DATABASE_URL'] || undefined;
export const TEST_REDIS_URL = process.env['TRAILGUARD_TEST_REDIS_URL'] || undefined;

export const POSTGRES_SKIP = TEST_DATABASE_URL ? false : 'TRAILGUARD_TEST_DATABASE_URL is not set';
export const REDIS_SKIP = TEST_REDIS_URL ? false : 'TRAILGUARD_TEST_REDIS_URL is not set';

/** A throwaway PostgreSQL database on the test server; `drop()` removes it. */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  if (!TEST_DATABASE_URL) throw new Error('TRAILGUARD_TEST_DATABASE_URL is not set');
  const name = `tg_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Opens Trailguard on `backend`; its close() also drops the PostgreSQL database. */
export async function openTrailguard(
  backend: BackendName,
  options: TrailguardOptions = {},
): Promise<Trailguard> {
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  // Security event lines would flood the test output; suites that check them pass their own destination.
  const defaults = { logger: quiet, securityLog: { enabled: false } };
  if (backend === 'pglite') return createTrailguard({ dataDir: 'memory://', ...defaults, ...options });
  const db = await createTestDatabase();
  const tg = await createTrailguard({ databaseUrl: db.url, ...defaults, ...options });
  const close = tg.close.bind(tg);
  return Object.assign(Object.create(Object.getPrototypeOf(tg) as object) as Trailguard, tg, {
    close: async () => {
      await close();
      await db.drop();
    },
  });
}

/** Runs `suite` once per backend, skipping PostgreSQL (with the reason) when it is not configured. */
export function forEachBackend(title: string, suite: (backend: BackendName) => void): void {
  for (const backend of ['pglite', 'postgres'] as const) {
    const skip = backend === 'postgres' ? POSTGRES_SKIP : false;
    describe(`${title} [${backend}]`, { skip }, () => suite(backend));
  }
}
