/**
 * `trailguard integrity seal | verify | head`: tamper evidence from the command line. `verify` exits 0
 * when the trail is intact, 2 when it found problems (1 when it could not run), so a scheduler or an
 * auditor's script can act on it.
 * @module
 */
import type { Command } from 'commander';
import { resolveConfig } from '../config.ts';
import { invalid } from '../domain/errors.ts';
import { STREAMS, isStream } from '../integrity/canonical-row.ts';
import type { IntegrityHead, IntegrityReport } from '../integrity/integrity-service.ts';
import type { TrailguardOptions } from '../config.ts';
import { cliOptions, withTrailguard } from './context.ts';

/** Exit code of `integrity verify` when it found problems. */
export const VERIFY_FAILED_EXIT_CODE = 2;

/** `<seq>:<hash>` as printed by `integrity seal` / `integrity head`. */
export function parseHead(value: string): IntegrityHead {
  const m = /^(\d+):([0-9a-f]{64})$/.exec(value.trim());
  if (!m) throw invalid('--expect-head', 'must be <seq>:<hash> as printed by "trailguard integrity seal"');
  return { seq: Number(m[1]), hash: m[2] as string };
}

// The security log goes to stdout by default: the CLI prints the head itself and keeps stdout for
// its report. A configured file or descriptor still receives the anchor line.
function cliLogOptions(cmd: Command): TrailguardOptions {
  const configured = resolveConfig(cliOptions(cmd)).securityLog;
  const dest = configured.destination;
  return dest === undefined || dest === 1 ? { securityLog: { ...configured, enabled: false } } : {};
}

/** The report as readable lines. */
export function formatReport(report: IntegrityReport): string {
  const lines: string[] = [];
  lines.push(
    report.ok
      ? `intact: ${report.entries} chain entries${report.head ? `, head ${report.head.seq}:${report.head.hash}` : ''}`
      : `NOT INTACT: ${report.problems.length + report.problemsOmitted} problem(s); ${report.entries} chain entries`,
  );
  for (const [stream, s] of Object.entries(report.streams)) {
    lines.push(
      `  ${stream}: ${s.rowsChecked} sealed row(s) checked in ${s.seals} seal(s), ${s.adjustments} adjustment(s); ` +
        `sealed through ${s.sealedThrough ? s.sealedThrough.toISOString() : 'never'}; ${s.unsealedRows} unsealed`,
    );
  }
  if (!report.keyed) lines.push('  (no integrity key configured: unkeyed SHA-256 seals)');
  for (const p of report.problems) {
    const ids = p.ids?.length ? ` [${p.ids.join(', ')}]` : '';
    lines.push(`  - ${p.kind}: ${p.message}${ids}`);
  }
  if (report.problemsOmitted > 0) lines.push(`  … and ${report.problemsOmitted} more`);
  return `${lines.join('\n')}\n`;
}

export function registerIntegrity(program: Command): void {
  const integrity = program
    .command('integrity')
    .description('tamper evidence: seal the audit trail and verify it (see docs/compliance.md)');

  integrity
    .command('seal')
    .description(
      'seal the rows recorded since the last seal (up to --settle seconds ago) and print the chain head',
    )
    .option('--settle <seconds>', 'leave rows recorded in the last N seconds for the next seal (default 60)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { settle?: string; json?: boolean }, cmd: Command) => {
      let settleSeconds: number | undefined;
      if (opts.settle !== undefined) {
        settleSeconds = Number(opts.settle);
        if (!Number.isFinite(settleSeconds) || settleSeconds < 0)
          throw invalid('--settle', 'must be a number of seconds, 0 or more');
      }
      await withTrailguard(
        cmd,
        async (tg) => {
          const result = await tg.integrity.seal({ settleSeconds });
          if (opts.json) {
            process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
            return;
          }
          for (const s of result.sealed) {
            process.stdout.write(
              `sealed ${s.stream}: ${s.rows} row(s) recorded ${s.from.toISOString()} – ${s.to.toISOString()} (entry ${s.seq})\n`,
            );
          }
          if (result.sealed.length === 0) process.stdout.write('nothing new to seal\n');
          process.stdout.write(
            result.head
              ? `head ${result.head.seq}:${result.head.hash}\n(keep this line outside the database; verify --expect-head checks it)\n`
              : 'no seals yet\n',
          );
        },
        cliLogOptions(cmd),
      );
    });

  integrity
    .command('verify')
    .description(
      `recompute every sealed range and the chain; exit 0 when intact, ${VERIFY_FAILED_EXIT_CODE} with a report when not`,
    )
    .option('--stream <stream>', `check only this stream's rows (${STREAMS.join(', ')})`)
    .option('--expect-head <seq:hash>', 'a head printed by an earlier seal: it must still be in the chain')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { stream?: string; expectHead?: string; json?: boolean }, cmd: Command) => {
      if (opts.stream !== undefined && !isStream(opts.stream))
        throw invalid('--stream', `must be one of: ${STREAMS.join(', ')}`);
      const expectHead = opts.expectHead === undefined ? undefined : parseHead(opts.expectHead);
      const ok = await withTrailguard(
        cmd,
        async (tg) => {
          const report = await tg.integrity.verify({
            stream: opts.stream as (typeof STREAMS)[number] | undefined,
            expectHead,
          });
          process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
          return report.ok;
        },
        cliLogOptions(cmd),
      );
      // Set after the database is closed: closing the embedded database resets process.exitCode.
      if (!ok) process.exitCode = VERIFY_FAILED_EXIT_CODE;
    });

  integrity
    .command('head')
    .description('print the newest chain entry as <seq>:<hash>')
    .action(async (_opts: unknown, cmd: Command) => {
      await withTrailguard(
        cmd,
        async (tg) => {
          const head = await tg.integrity.head();
          process.stdout.write(head ? `${head.seq}:${head.hash}\n` : 'no seals yet\n');
        },
        cliLogOptions(cmd),
      );
    });
}
