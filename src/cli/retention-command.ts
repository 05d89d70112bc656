/** `trailguard retention run [--dry-run]`: apply the retention policy now and print the receipt. */
import type { Command } from 'commander';
import { withTrailguard } from './context.ts';

export function registerRetention(program: Command): void {
  const retention = program.command('retention').description('data retention (policy in the config file)');
  retention
    .command('run')
    .description('remove (and archive, when configured) records older than the retention policy')
    .option('--dry-run', 'count what would be removed; change nothing')
    .option('--json', 'print the receipt as JSON')
    .action(async (opts: { dryRun?: boolean; json?: boolean }, cmd: Command) => {
      await withTrailguard(cmd, async (tg) => {
        const receipt = await tg.retention.run({ dryRun: opts.dryRun === true });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(receipt, null, 2)}\n`);
          return;
        }
        const verb = receipt.dryRun ? 'would remove' : 'removed';
        process.stdout.write(
          `retention ${receipt.dryRun ? 'dry run' : 'run'} ${receipt.id}: ${verb} ${receipt.totalRows} row(s)\n`,
        );
        for (const i of receipt.items) {
          const archive = i.archive ? `  archive ${i.archive.file} sha256 ${i.archive.sha256}` : '';
          process.stdout.write(`  ${i.table} ${i.period} ${i.method} ${i.rows}${archive}\n`);
        }
        if (receipt.changeId) process.stdout.write(`recorded as change ${receipt.changeId}\n`);
      });
    });
}
