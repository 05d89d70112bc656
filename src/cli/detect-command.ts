/** `trailguard detect replay`: run a log of login attempts through a detection configuration. */
import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { Option } from 'commander';
import { TrailguardError } from '../domain/errors.ts';
import { ATTEMPT_LOG_FORMATS, AttemptLogReader } from '../detect/attempt-log.ts';
import type { AttemptLogFormat, LoginAttempt } from '../detect/attempt-log.ts';
import { replayAttempts } from '../detect/replay.ts';
import type { ReplayReport } from '../detect/replay.ts';
import { globalOptions } from './context.ts';

interface ReplayOptions {
  format: AttemptLogFormat;
  year?: string;
  json?: boolean;
  signals: string;
}

export function registerDetect(program: Command): void {
  const detect = program.command('detect').description('attack detection tools');
  detect
    .command('replay')
    .description(
      'replay a log of login attempts (Trailguard JSON lines or OpenSSH auth.log) through the detection ' +
        'configuration of --config in event time, and print what it would flag and refuse',
    )
    .argument('<file>', "the log to replay ('-' for standard input)")
    .addOption(
      new Option('--format <format>', 'how to read the log').choices(ATTEMPT_LOG_FORMATS).default('auto'),
    )
    .option('--year <year>', 'year of the first syslog time stamp without one (default: this year)')
    .option('--signals <n>', 'signals to list in the text output', '20')
    .option('--json', 'print the whole report as JSON')
    .action(async (file: string, opts: ReplayOptions, cmd: Command) => {
      const detection = readDetectionConfig(globalOptions(cmd).config);
      const year = opts.year === undefined ? undefined : wholeNumber(opts.year, '--year', 1970, 9999);
      const listed = wholeNumber(opts.signals, '--signals', 0, 1_000_000);
      const reader = new AttemptLogReader({ format: opts.format, year });
      const input: Readable = file === '-' ? process.stdin : createReadStream(file);
      const attempts: LoginAttempt[] = [];
      try {
        for await (const line of createInterface({ input, crlfDelay: Infinity })) {
          for (const a of reader.read(line)) attempts.push(a);
        }
      } catch (err) {
        throw new TrailguardError('VALIDATION_FAILED', `cannot read ${file}: ${(err as Error).message}`, {
          field: 'file',
        });
      }
      const report = await replayAttempts(attempts, detection);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ ...report, skippedLines: reader.skipped }, null, 2)}\n`);
      } else {
        process.stdout.write(formatReport(report, reader.skipped, listed));
      }
    });
}

/** The `detection` object of a Trailguard config file, or the whole file when it is only that. */
function readDetectionConfig(path: string | undefined): unknown {
  if (path === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new TrailguardError('CONFIG_INVALID', `cannot read ${path}: ${(err as Error).message}`, {
      field: 'config',
    });
  }
  if (typeof parsed === 'object' && parsed !== null && 'detection' in parsed)
    return (parsed as { detection: unknown }).detection;
  return parsed;
}

function wholeNumber(value: string, field: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max)
    throw new TrailguardError('VALIDATION_FAILED', `${field} must be a whole number from ${min} to ${max}`, {
      field,
    });
  return n;
}

const num = (n: number) => n.toLocaleString('en-US');

function formatReport(r: ReplayReport, skipped: number, listed: number): string {
  const lines: string[] = [];
  const span = r.from && r.to ? ` from ${r.from.toISOString()} to ${r.to.toISOString()}` : '';
  lines.push(
    `replayed ${num(r.attempts)} login attempts (${num(r.failures)} failed, ${num(r.successes)} succeeded)${span}`,
  );
  if (skipped) lines.push(`skipped ${num(skipped)} lines that are not a login attempt`);
  const by = Object.entries(r.signalsByPattern)
    .map(([p, n]) => `${p} ${num(n)}`)
    .join(', ');
  lines.push(
    `signals raised: ${num(r.signals.length)}${by ? ` (${by})` : ''}, about ${num(r.flaggedIps)} address(es) and ${num(r.flaggedAccounts)} account(s)`,
  );
  const f = r.refused;
  const modeNote = r.mode === 'enforce' ? 'enforce mode' : 'enforce mode (the configuration says monitor)';
  lines.push(
    `${modeNote}, refusing on ${r.blockOn.join(', ') || 'nothing'}, would refuse ${num(f.attempts)} attempts ` +
      `from ${num(f.ips)} address(es) on ${num(f.accounts)} account(s)`,
  );
  lines.push(`  right passwords refused: ${num(f.successes)}`);
  lines.push(
    `  refusals of accounts that logged in from the same address afterwards (likely legitimate): ${num(f.likelyLegitimate)}`,
  );
  if (listed > 0 && r.signals.length > 0) {
    lines.push(r.signals.length > listed ? `first ${num(listed)} signals:` : 'signals:');
    for (const s of r.signals.slice(0, listed))
      lines.push(`  ${s.at.toISOString()}  ${s.pattern}  ${s.key}  (${s.count})`);
  }
  return `${lines.join('\n')}\n`;
}
