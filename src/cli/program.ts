/**
 * The `trailguard` command. Each command lives in its own file and registers itself on the program.
 * @module
 */
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { isTrailguardError } from '../domain/errors.ts';
import { registerMigrate } from './migrate-command.ts';
import { registerDemo } from './demo-command.ts';
import { registerServe } from './serve-command.ts';
import { registerKeys } from './keys-command.ts';
import { registerUsers } from './users-command.ts';
import { registerChange } from './change-command.ts';
import { registerIncident } from './incident-command.ts';
import { registerRetention } from './retention-command.ts';
import { registerPrivacy } from './privacy-command.ts';
import { registerExport } from './export-command.ts';
import { registerIntegrity } from './integrity-command.ts';
import { registerDetect } from './detect-command.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** Builds the program (exported for tests). */
export function buildProgram(): Command {
  const program = new Command('trailguard')
    .description('Security audit trail: login history, security events and a production change log.')
    .version(pkg.version)
    .option('--database-url <url>', 'PostgreSQL URL (env DATABASE_URL); default: the embedded database')
    .option(
      '--data-dir <dir>',
      'embedded database directory (env TRAILGUARD_DATA_DIR) (default: ./.trailguard/db)',
    )
    .option('--config <file>', 'JSON config file (env TRAILGUARD_CONFIG)')
    .showHelpAfterError();
  registerMigrate(program);
  registerDemo(program);
  registerServe(program);
  registerKeys(program);
  registerUsers(program);
  registerChange(program);
  registerIncident(program);
  registerRetention(program);
  registerPrivacy(program);
  registerExport(program);
  registerIntegrity(program);
  registerDetect(program);
  return program;
}

/** Runs the CLI; an error prints one clear line and sets a non-zero exit code. */
export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (isTrailguardError(err)) {
      process.stderr.write(
        `trailguard: ${err.message} [${err.code}${err.field ? `, field ${err.field}` : ''}]\n`,
      );
    } else {
      process.stderr.write(`trailguard: ${(err as Error)?.message ?? String(err)}\n`);
    }
    if (!process.exitCode) process.exitCode = 1;
  }
}
