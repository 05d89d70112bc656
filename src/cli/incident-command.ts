/**
 * `trailguard incident …`: record production incidents and link them to the changes that caused and
 * remedied them, from a terminal or an on-call pipeline.
 * @module
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { TrailguardError, invalid, isTrailguardError } from '../domain/errors.ts';
import { INCIDENT_LINK_ROLES, INCIDENT_SEVERITIES, INCIDENT_STATUSES } from '../incidents/index.ts';
import type { Incident, IncidentWithHistory, LinkedChange } from '../incidents/index.ts';
import { detectCiContext } from './ci-context.ts';
import { withTrailguard } from './context.ts';

/** Library field → the option that sets it, so errors name what the user typed. */
const FLAGS: Record<string, string> = {
  title: '--title',
  severity: '--severity',
  openedBy: '--by',
  by: '--by',
  description: '--description',
  environment: '--environment',
  affectedSystems: '--systems',
  startedAt: '--started-at',
  detectedAt: '--detected-at',
  resolvedAt: '--resolved-at',
  causes: '--cause',
  remedy: '--remedy',
  changeId: '<change-id>',
  role: '--role',
  note: '--note',
  status: '--status',
  from: '--from',
  to: '--to',
  limit: '--limit',
  cursor: '--cursor',
};

function withFlag(err: unknown): never {
  if (isTrailguardError(err) && err.field) {
    const flag = FLAGS[err.field.split(/[.[]/)[0] ?? err.field];
    if (flag)
      throw new TrailguardError(err.code, `${err.message} (option ${flag})`, {
        field: err.field,
        cause: err,
      });
  }
  throw err;
}

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

interface ByOptions {
  by?: string;
  byName?: string;
  json?: boolean;
}

async function actor(opts: ByOptions): Promise<{ id: string; name: string }> {
  if (opts.by !== undefined) return { id: opts.by, name: opts.byName ?? opts.by };
  const ci = await detectCiContext();
  if (ci.performer) return ci.performer;
  throw invalid('by', 'cannot tell who acts: pass --by');
}

function byOptions(cmd: Command): Command {
  return cmd
    .option('--by <id>', 'who acts (default: the CI actor or git user)')
    .option('--by-name <name>', 'display name of --by')
    .option('--note <text>', 'a note for the history')
    .option('--json', 'print the incident as JSON');
}

const iso = (d: Date | null) => (d === null ? '-' : d.toISOString());
const who = (p: { id: string; name: string } | null) =>
  p === null ? '-' : p.name === p.id ? p.id : `${p.name} (${p.id})`;
const linked = (c: LinkedChange) =>
  `${c.changeId} ${c.title}${c.version ? ` ${c.version}` : ''} (deployed ${iso(c.deployedAt)}${c.via === 'revert' ? ', recognised as a revert' : ''})`;

export function describeIncident(i: Incident): string {
  const lines: [string, string][] = [
    ['id', i.id],
    ['title', i.title],
    ['severity', i.severity],
    ['status', i.status + (i.resolvedBy ? ` by ${who(i.resolvedBy)} at ${iso(i.resolvedAt)}` : '')],
    ['environment', i.environment],
    ['systems', i.affectedSystems.join(', ') || '-'],
    ['started at', iso(i.startedAt)],
    ['detected at', iso(i.detectedAt)],
    ['opened by', who(i.openedBy)],
    ['caused by', i.causes.map(linked).join('\n             ') || '-'],
    ['remedy', i.remedy ? linked(i.remedy) : '-'],
  ];
  if (i.resolution) lines.push(['resolution', i.resolution]);
  return lines.map(([k, v]) => `${k.padEnd(13)}${v}`).join('\n');
}

function describeHistory(i: IncidentWithHistory): string {
  return i.history
    .map((h) => {
      const what =
        h.action === 'linked' ? ` ${String(h.details['role'])} ${String(h.details['changeId'])}` : '';
      return `${h.at.toISOString()}  ${h.action.padEnd(9)} by ${who(h.by)}${what}${h.note ? `  — ${h.note}` : ''}`;
    })
    .join('\n');
}

function print(i: Incident, json: boolean | undefined): void {
  out(json ? JSON.stringify(i, null, 2) : describeIncident(i));
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerIncident(program: Command): void {
  const incident = program
    .command('incident')
    .description('production incidents and the changes behind them');

  byOptions(
    incident
      .command('open')
      .requiredOption('--title <title>', 'what is failing')
      .addOption(
        new Option('--severity <level>', 'severity').choices([...INCIDENT_SEVERITIES]).makeOptionMandatory(),
      )
      .option('--description <text>', 'details')
      .option('--environment <name>', 'environment', 'production')
      .option('--systems <list>', 'affected systems, comma-separated')
      .option('--started-at <date>', 'when the failure began, ISO-8601 (default: --detected-at)')
      .option('--detected-at <date>', 'when it was noticed, ISO-8601 (default: now)')
      .option('--cause <change-id>', 'a change that caused it (repeatable)', collect),
  )
    .description('open an incident; prints its id')
    .action(
      async (
        opts: ByOptions & {
          title: string;
          severity: string;
          description?: string;
          environment: string;
          systems?: string;
          startedAt?: string;
          detectedAt?: string;
          cause?: string[];
        },
        cmd: Command,
      ) => {
        const openedBy = await actor(opts);
        await withTrailguard(cmd, async (tg) => {
          const i = await tg.incidents
            .open({
              title: opts.title,
              severity: opts.severity as Incident['severity'],
              openedBy,
              description: opts.description,
              environment: opts.environment,
              affectedSystems: (opts.systems ?? '')
                .split(',')
                .map((s) => s.trim())
                .filter(Boolean),
              startedAt: opts.startedAt,
              detectedAt: opts.detectedAt,
              causes: opts.cause,
            })
            .catch(withFlag);
          out(opts.json ? JSON.stringify(i, null, 2) : i.id);
        });
      },
    );

  byOptions(
    incident
      .command('resolve')
      .argument('<id>', 'incident id')
      .option('--resolved-at <date>', 'when service was restored, ISO-8601 (default: now)')
      .option('--remedy <change-id>', 'the hotfix or revert that fixed it'),
  )
    .description('resolve an open incident (once)')
    .action(
      async (
        id: string,
        opts: ByOptions & { note?: string; resolvedAt?: string; remedy?: string },
        cmd: Command,
      ) => {
        const by = await actor(opts);
        await withTrailguard(cmd, async (tg) => {
          const i = await tg.incidents
            .resolve(id, { by, note: opts.note, resolvedAt: opts.resolvedAt, remedy: opts.remedy })
            .catch(withFlag);
          print(i, opts.json);
        });
      },
    );

  byOptions(
    incident
      .command('link')
      .argument('<id>', 'incident id')
      .argument('<change-id>', 'the change to link')
      .addOption(
        new Option('--role <role>', 'how it relates').choices([...INCIDENT_LINK_ROLES]).default('cause'),
      ),
  )
    .description('link a change to an incident as a cause or as its remedy')
    .action(
      async (
        id: string,
        changeId: string,
        opts: ByOptions & { note?: string; role: string },
        cmd: Command,
      ) => {
        const by = await actor(opts);
        await withTrailguard(cmd, async (tg) => {
          const i = await tg.incidents
            .link(id, { changeId, role: opts.role as LinkedChange['role'], by, note: opts.note })
            .catch(withFlag);
          print(i, opts.json);
        });
      },
    );

  incident
    .command('show')
    .argument('<id>', 'incident id')
    .option('--json', 'print the incident and its history as JSON')
    .description('show an incident, its causes, remedy and history')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      await withTrailguard(cmd, async (tg) => {
        const i = await tg.incidents.get(id);
        out(
          opts.json ? JSON.stringify(i, null, 2) : `${describeIncident(i)}\n\nhistory\n${describeHistory(i)}`,
        );
      });
    });

  incident
    .command('list')
    .description('list incidents, newest first')
    .addOption(new Option('--status <status>', 'status').choices([...INCIDENT_STATUSES]))
    .addOption(new Option('--severity <level>', 'severity').choices([...INCIDENT_SEVERITIES]))
    .option('--environment <name>', 'environment')
    .option('--change <change-id>', 'only incidents linked to this change')
    .option('--from <date>', 'started at or after (ISO-8601)')
    .option('--to <date>', 'started before (ISO-8601)')
    .option('--limit <n>', 'page size (default 50, max 1000)')
    .option('--cursor <cursor>', 'next page cursor from a previous --json list')
    .option('--json', 'print { items, nextCursor } as JSON')
    .action(
      async (
        opts: {
          status?: string;
          severity?: string;
          environment?: string;
          change?: string;
          from?: string;
          to?: string;
          limit?: string;
          cursor?: string;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        if (opts.limit !== undefined && !/^\d+$/.test(opts.limit))
          throw invalid('limit', 'must be a whole number');
        await withTrailguard(cmd, async (tg) => {
          const page = await tg.incidents
            .list({
              status: opts.status as never,
              severity: opts.severity as never,
              environment: opts.environment,
              changeId: opts.change,
              from: opts.from,
              to: opts.to,
              limit: opts.limit === undefined ? undefined : Number(opts.limit),
              cursor: opts.cursor,
            })
            .catch(withFlag);
          if (opts.json) return out(JSON.stringify(page, null, 2));
          if (page.items.length === 0) return out('no incidents');
          for (const i of page.items) {
            const causes = i.causes.length ? `  caused by ${i.causes.map((c) => c.title).join(', ')}` : '';
            out(
              `${i.id}  ${i.startedAt.toISOString()}  ${i.severity.padEnd(8)} ${i.status.padEnd(8)} ${i.title}${causes}`,
            );
          }
          if (page.nextCursor) out(`more: --cursor ${page.nextCursor}`);
        });
      },
    );
}
