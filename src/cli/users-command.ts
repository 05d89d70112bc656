/** `trailguard users create|list|disable|set-password`: admin users of the server and its web UI. */
import type { Command } from 'commander';
import { createAuthService } from '../auth/auth-service.ts';
import { withTrailguard } from './context.ts';

/** Reads a password from stdin (for `--password-stdin`), so it never appears in the process list. */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

export function registerUsers(program: Command): void {
  const users = program.command('users').description('manage admin users of the server and web UI');
  users
    .command('create <username>')
    .description('create an admin user; without --password-stdin a password is generated and printed once')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (username: string, opts: { passwordStdin?: boolean }, cmd: Command) => {
      const password = opts.passwordStdin ? await readStdin() : undefined;
      await withTrailguard(cmd, async (tg) => {
        const auth = createAuthService({ db: tg.database.db, clock: tg.config.clock });
        const created = await auth.users.create({ username, password });
        process.stdout.write(`created admin user ${created.user.username} (${created.user.id})\n`);
        if (created.password)
          process.stdout.write(
            `password: ${created.password}\n(shown once; change it with "trailguard users set-password")\n`,
          );
      });
    });
  users
    .command('list')
    .description('list admin users')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withTrailguard(cmd, async (tg) => {
        const list = await createAuthService({ db: tg.database.db, clock: tg.config.clock }).users.list();
        if (opts.json) process.stdout.write(`${JSON.stringify(list)}\n`);
        else
          process.stdout.write(
            list.length
              ? `${list.map((u) => `${u.id}  ${u.username.padEnd(24)} ${u.disabledAt ? `disabled ${u.disabledAt.toISOString()}` : 'active'}`).join('\n')}\n`
              : 'no admin users\n',
          );
      });
    });
  users
    .command('disable <user>')
    .description('disable an admin user (id or username) and end their sessions')
    .action(async (user: string, _opts: unknown, cmd: Command) => {
      await withTrailguard(cmd, async (tg) => {
        const u = await createAuthService({ db: tg.database.db, clock: tg.config.clock }).users.disable(user);
        process.stdout.write(`disabled ${u.username} (${u.id})\n`);
      });
    });
  users
    .command('set-password <user>')
    .description("set a new password (read from stdin) and end the user's sessions")
    .action(async (user: string, _opts: unknown, cmd: Command) => {
      const password = await readStdin();
      await withTrailguard(cmd, async (tg) => {
        const u = await createAuthService({ db: tg.database.db, clock: tg.config.clock }).users.setPassword(
          user,
          password,
        );
        process.stdout.write(`password changed for ${u.username}\n`);
      });
    });
}
