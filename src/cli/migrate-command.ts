/** `trailguard migrate`: apply pending migrations and report them. */
import type { Command } from 'commander';
import { resolveConfig } from '../config.ts';
import { openDatabase } from '../store/database.ts';
import { migrateToLatest } from '../store/migrator.ts';
import { cliOptions } from './context.ts';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations (also done automatically at start)')
    .action(async (_opts: unknown, cmd: Command) => {
      const config = resolveConfig(cliOptions(cmd));
      const db = await openDatabase({
        databaseUrl: config.databaseUrl,
        dataDir: config.dataDir,
        migrate: false,
      });
      try {
        const applied = await migrateToLatest(db.db);
        process.stdout.write(
          applied.length
            ? `applied ${applied.length} migration(s) to ${db.location}: ${applied.join(', ')}\n`
            : `${db.location} is up to date\n`,
        );
      } finally {
        await db.close();
      }
    });
}
