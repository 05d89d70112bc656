/** `trailguard keys create|list|revoke`: the server's API keys. */
import type { Command } from 'commander';
import { createAuthService } from '../auth/auth-service.ts';
import type { ApiKeyInfo } from '../auth/auth-service.ts';
import { withTrailguard } from './context.ts';

function line(k: ApiKeyInfo): string {
  const state = k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'active';
  const used = k.lastUsedAt ? `last used ${k.lastUsedAt.toISOString()}` : 'never used';
  return `${k.id}  ${k.scope.padEnd(6)} ${k.name.padEnd(24)} ${k.prefix}…  ${state}, ${used}`;
}

export function registerKeys(program: Command): void {
  const keys = program
    .command('keys')
    .description('manage API keys for the server (scopes: ingest, read, admin)');
  keys
    .command('create')
    .description('create an API key; it is printed once and stored only as a hash')
    .requiredOption('--name <name>', 'what the key is for (e.g. "billing-service")')
    .requiredOption('--scope <scope>', 'ingest | read | admin')
    .option('--json', 'print JSON')
    .action(async (opts: { name: string; scope: string; json?: boolean }, cmd: Command) => {
      await withTrailguard(cmd, async (tg) => {
        const auth = createAuthService({ db: tg.database.db, clock: tg.config.clock });
        const { key, secret } = await auth.apiKeys.create({
          name: opts.name,
          scope: opts.scope,
          createdBy: 'cli',
        });
        if (opts.json) process.stdout.write(`${JSON.stringify({ ...key, secret })}\n`);
        else
          process.stdout.write(
            `Created ${key.scope} key "${key.name}" (${key.id}).\n\n  ${secret}\n\nStore it now: it is not shown again. Send it as "Authorization: Bearer <key>".\n`,
          );
      });
    });
  keys
    .command('list')
    .description('list API keys (never the keys themselves)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withTrailguard(cmd, async (tg) => {
        const list = await createAuthService({ db: tg.database.db, clock: tg.config.clock }).apiKeys.list();
        if (opts.json) process.stdout.write(`${JSON.stringify(list)}\n`);
        else process.stdout.write(list.length ? `${list.map(line).join('\n')}\n` : 'no API keys\n');
      });
    });
  keys
    .command('revoke <id>')
    .description('revoke an API key (takes effect within seconds on every server)')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      await withTrailguard(cmd, async (tg) => {
        const key = await createAuthService({ db: tg.database.db, clock: tg.config.clock }).apiKeys.revoke(
          id,
        );
        process.stdout.write(`revoked ${line(key)}\n`);
      });
    });
}
