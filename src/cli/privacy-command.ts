/** `trailguard privacy export|erase <userId>`: GDPR access and erasure requests. */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { withTrailguard } from './context.ts';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
const USERNAME_HELP =
  "a username (e-mail …) of the user that Trailguard cannot link to the id itself, e.g. once retention removed the user's successful logins; repeatable";

export function registerPrivacy(program: Command): void {
  const privacy = program.command('privacy').description('GDPR: export or erase what is stored about a user');
  privacy
    .command('export <userId>')
    .description("print one JSON document with the user's login history, security events and changes")
    .option('--out <file>', 'write to a file instead of stdout')
    .option('--username <name>', USERNAME_HELP, collect)
    .action(async (userId: string, opts: { out?: string; username?: string[] }, cmd: Command) => {
      await withTrailguard(cmd, async (tg) => {
        const doc = `${JSON.stringify(await tg.privacy.export(userId, { usernames: opts.username }), null, 2)}\n`;
        if (opts.out) await writeFile(opts.out, doc, { flag: 'wx', mode: 0o600 });
        else process.stdout.write(doc);
      });
    });
  privacy
    .command('erase <userId>')
    .description("erase the user's login history and security events; pseudonymise their change records")
    .requiredOption('--requested-by <who>', 'who asked for the erasure')
    .requiredOption('--reason <why>', 'why (ticket, legal basis)')
    .option('--username <name>', USERNAME_HELP, collect)
    .action(
      async (
        userId: string,
        opts: { requestedBy: string; reason: string; username?: string[] },
        cmd: Command,
      ) => {
        await withTrailguard(cmd, async (tg) => {
          const receipt = await tg.privacy.erase(userId, {
            requestedBy: opts.requestedBy,
            reason: opts.reason,
            usernames: opts.username,
          });
          process.stdout.write(`${JSON.stringify(receipt, null, 2)}\n`);
        });
      },
    );
}
