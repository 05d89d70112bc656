/** `trailguard demo`: records a realistic sample of logins and prints the answers to the seed queries. */
import type { Command } from 'commander';
import { withTrailguard } from './context.ts';
import { runDemo } from './demo.ts';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('record a realistic sample of logins into the database and print the seed queries')
    .action(async (_opts: unknown, cmd: Command) => {
      await withTrailguard(cmd, (tg) => runDemo(tg, process.stdout));
    });
}
