/**
 * Runs Trailguard's migrations (in code, so they ship inside the package) with Kysely's Migrator.
 * Kysely serialises concurrent migrators with a lock, so several servers may start at once.
 * @module
 */
import { Migrator } from 'kysely';
import type { Database } from './schema.ts';
import type { Kysely, Migration, MigrationResult } from 'kysely';
import { TrailguardError } from '../domain/errors.ts';
import { migrations } from './migrations/index.ts';

function migrator(db: Kysely<Database>): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations as Record<string, Migration> },
    migrationTableName: 'trailguard_migration',
    migrationLockTableName: 'trailguard_migration_lock',
  });
}

/** Applies the migrations up to and including `name` (for upgrade tests: a database as an older release left it). */
export async function migrateTo(db: Kysely<Database>, name: string): Promise<void> {
  const { error } = await migrator(db).migrateTo(name);
  if (error) throw error;
}

/** Applies every pending migration; returns the names applied. */
export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  const { error, results } = await migrator(db).migrateToLatest();
  if (error) {
    const failed = results?.find((r: MigrationResult) => r.status === 'Error');
    throw new TrailguardError(
      'DATABASE_UNREACHABLE',
      `migration ${failed?.migrationName ?? '?'} failed: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
