/** `trailguard demo`: records a realistic sample of logins and prints the answers to the seed queries. */
import type { Command } from 'commander';
import { dirname, join, resolve } from 'node:path';
import { DEFAULT_DATA_DIR } from '../store/database.ts';
import { globalOptions, withTrailguard } from './context.ts';
import { runDemo } from './demo.ts';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('record a realistic sample of logins into the database and print the seed queries')
    .option(
      '--security-log <file>',
      'where the security event JSON lines go (default: beside the data directory)',
    )
    .action(async (opts: { securityLog?: string }, cmd: Command) => {
      const dataDir = globalOptions(cmd).dataDir ?? process.env['TRAILGUARD_DATA_DIR'] ?? DEFAULT_DATA_DIR;
      // The event lines would drown the report on stdout; they go to a file the report names.
      const logFile =
        opts.securityLog ??
        (dataDir.startsWith('memory://')
          ? join(process.cwd(), 'security-events.jsonl')
          : join(dirname(resolve(dataDir)), 'security-events.jsonl'));
      await withTrailguard(cmd, (tg) => runDemo(tg, process.stdout, { securityLogFile: logFile }), {
        securityLog: { destination: logFile },
      });
    });
}
