/**
 * `trailguard change report` (the seed's reports and DORA) and `trailguard change await` (a CI gate
 * that waits for a change's approval).
 * @module
 */
import type { Command } from 'commander';
import type { ChangeReport, DoraFigures } from '../domain/change.ts';
import { invalid } from '../domain/errors.ts';
import { withTrailguard } from './context.ts';

const DAY = 86_400_000;

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

const num = (v: number | null, digits = 1, unit = '') =>
  v === null ? '-' : `${Number(v.toFixed(digits))}${unit}`;

function doraLine(label: string, d: DoraFigures): string {
  return `${label.padEnd(16)}${String(d.deployments).padStart(6)}  ${num(d.deploymentFrequency, 2).padStart(7)}/day  lead ${num(d.leadTimeForChangesHours, 1, ' h').padStart(8)}  failure ${num(d.changeFailureRate, 1, ' %').padStart(7)}  restore ${num(d.timeToRestoreHours, 1, ' h').padStart(8)}`;
}

/** The report as text: monthly by type, high impact, per person, rollback rate, DORA. */
export function describeReport(
  r: ChangeReport,
  byMonth: { month: string; byType: Record<string, number> }[],
): string {
  const lines: string[] = [];
  lines.push(`Change report ${r.from.toISOString()} – ${r.to.toISOString()}: ${r.total} change(s)`);
  lines.push('', 'By month and type');
  for (const m of byMonth) {
    const types = Object.entries(m.byType)
      .filter(([, n]) => n > 0)
      .map(([t, n]) => `${t} ${n}`)
      .join(', ');
    lines.push(`  ${m.month}  ${types || '-'}`);
  }
  lines.push('', 'High impact (critical and high)');
  for (const c of r.highImpact)
    lines.push(
      `  ${c.deployedAt.toISOString()}  ${c.impactLevel.padEnd(8)} ${c.title}${c.rolledBack ? '  [rolled back]' : ''}`,
    );
  if (r.highImpact.length === 0) lines.push('  -');
  lines.push('', 'By person');
  for (const p of r.byPerformer)
    lines.push(`  ${String(p.count).padStart(5)}  ${p.performer.name} (${p.performer.id})`);
  if (r.byPerformer.length === 0) lines.push('  -');
  lines.push('', `Rollback rate: ${num(r.rollbackRate, 1, ' %')}`);
  lines.push('', `DORA (${r.dora.environment}; ${r.dora.incidents} incident(s))`);
  lines.push(`${''.padEnd(16)}deploys  frequency`);
  lines.push(doraLine('  all services', r.dora));
  for (const s of r.dora.byService) lines.push(doraLine(`  ${s.service}`, s));
  return lines.join('\n');
}

/** The calendar months (UTC) a window touches, each as [start, end) clipped to the window. */
function months(from: Date, to: Date): { month: string; from: Date; to: Date }[] {
  const out: { month: string; from: Date; to: Date }[] = [];
  let start = from;
  while (start < to) {
    const next = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
    const end = next < to ? next : to;
    out.push({ month: start.toISOString().slice(0, 7), from: start, to: end });
    start = end;
  }
  return out;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function registerChangeReport(change: Command): void {
  change
    .command('report')
    .description("the seed's reports (by month and type, high impact, per person, rollback rate) and DORA")
    .option('--from <date>', 'start, ISO-8601 (default: 90 days ago)')
    .option('--to <date>', 'end, exclusive (default: now)')
    .option(
      '--environment <name>',
      'the environment for DORA and the counts (default: every environment; DORA: production)',
    )
    .option('--json', 'print { report, byMonth } as JSON')
    .action(
      async (opts: { from?: string; to?: string; environment?: string; json?: boolean }, cmd: Command) => {
        await withTrailguard(cmd, async (tg) => {
          const now = tg.config.clock.now();
          const report = await tg.changes.report({
            from: opts.from ?? new Date(now.getTime() - 90 * DAY),
            ...(opts.to !== undefined ? { to: opts.to } : {}),
            ...(opts.environment !== undefined ? { environment: opts.environment } : {}),
          });
          const byMonth = [];
          for (const m of months(report.from, report.to)) {
            const r = await tg.changes.report({
              from: m.from,
              to: m.to,
              ...(opts.environment !== undefined ? { environment: opts.environment } : {}),
            });
            byMonth.push({ month: m.month, total: r.total, byType: r.byType });
          }
          out(opts.json ? JSON.stringify({ report, byMonth }, null, 2) : describeReport(report, byMonth));
        });
      },
    );

  change
    .command('await')
    .argument('<id>', 'change id')
    .option('--timeout <seconds>', 'give up after this long', '3600')
    .option('--interval <seconds>', 'how often to look', '10')
    .description('wait for a review: exit 0 once approved, 1 when rejected, 2 on timeout (a CI gate)')
    .action(async (id: string, opts: { timeout: string; interval: string }, cmd: Command) => {
      const timeout = Number(opts.timeout);
      const interval = Number(opts.interval);
      if (!Number.isFinite(timeout) || timeout < 0)
        throw invalid('timeout', 'must be a number of seconds (option --timeout)');
      if (!Number.isFinite(interval) || interval <= 0)
        throw invalid('interval', 'must be a positive number of seconds (option --interval)');
      const deadline = Date.now() + timeout * 1000;
      // The database is opened for each look: an embedded database is then free between looks for the
      // reviewer's own `trailguard change approve`, and a lost connection does not end the wait.
      for (;;) {
        const c = await withTrailguard(cmd, (tg) => tg.changes.get(id));
        if (c.approvalStatus === 'approved') {
          out(`approved by ${c.approvedBy?.id ?? '?'} at ${c.approvedAt?.toISOString() ?? '?'}`);
          return;
        }
        if (c.approvalStatus === 'rejected') {
          const reason = [...c.history].reverse().find((h) => h.action === 'rejected')?.note;
          process.stderr.write(`trailguard: change ${c.id} was rejected${reason ? `: ${reason}` : ''}\n`);
          process.exitCode = 1;
          return;
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          process.stderr.write(
            `trailguard: change ${c.id} is still ${c.approvalStatus} after ${timeout} s\n`,
          );
          process.exitCode = 2;
          return;
        }
        await sleep(Math.min(interval * 1000, left));
      }
    });
}
