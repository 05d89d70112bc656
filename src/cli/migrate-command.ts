/** `trailguard migrate`: apply pending migrations and report them. */
import type { Command } from 'commander';
import { migrateToLatest } from '../store/migrator.ts';
import { withTrailguard } from './context.ts';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations (also done automatically at start)')
    .action(async (_opts: unknown, cmd: Command) => {
      await withTrailguard(
        cmd,
        async (tg) => {
          const applied = await migrateToLatest(tg.database.db);
          process.stdout.write(
            applied.length
              ? `applied ${applied.length} migration(s) to ${tg.database.location}: ${applied.join(', ')}\n`
              : `${tg.database.location} is up to date\n`,
          );
        },
        { migrate: false },
      );
    });
}
