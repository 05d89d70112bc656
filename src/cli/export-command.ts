/** `trailguard export`: stream a table to a SIEM format (constant memory at any size). */
import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { Option } from 'commander';
import { EXPORT_FORMATS, EXPORT_TABLES } from '../export/export-service.ts';
import type { ExportFormat, ExportTable } from '../export/export-service.ts';
import { withTrailguard } from './context.ts';

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('export logins, security events or changes as JSON lines, CSV, OCSF or ECS')
    .addOption(new Option('--table <table>', 'what to export').choices(EXPORT_TABLES).makeOptionMandatory())
    .addOption(new Option('--format <format>', 'output format').choices(EXPORT_FORMATS).default('jsonl'))
    .option('--from <date>', 'inclusive start of the event time (ISO-8601; a logout is at logout_at)')
    .option('--to <date>', 'exclusive end of the event time (ISO-8601)')
    .option('--out <file>', 'write to a file instead of stdout')
    .action(
      async (
        opts: { table: ExportTable; format: ExportFormat; from?: string; to?: string; out?: string },
        cmd: Command,
      ) => {
        await withTrailguard(cmd, async (tg) => {
          const out: Writable = opts.out ? createWriteStream(opts.out, { flags: 'wx' }) : process.stdout;
          const { rows } = await tg.export.write(
            { table: opts.table, format: opts.format, from: opts.from, to: opts.to },
            out,
          );
          if (opts.out) {
            out.end();
            await finished(out);
            process.stderr.write(`exported ${rows} event(s) to ${opts.out}\n`);
          }
        });
      },
    );
}
