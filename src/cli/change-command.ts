/**
 * `trailguard change …`: log production changes from CI pipelines and review them from a terminal.
 * @module
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { CHANGE_TYPES, IMPACT_LEVELS, VALIDATION_STATUSES } from '../domain/change.ts';
import type { Change, ChangeWithHistory, LogChangeInput } from '../domain/change.ts';
import { APPROVAL_STATUSES } from '../domain/change-state.ts';
import { TrailguardError, invalid, isTrailguardError } from '../domain/errors.ts';
import { detectCiContext, detectRevertedCommit } from './ci-context.ts';
import type { CiContext } from './ci-context.ts';
import { withTrailguard } from './context.ts';
import { registerChangeReport } from './change-report-command.ts';

/** Library field → the CLI option that sets it, so errors name what the user typed. */
const FLAGS: Record<string, string> = {
  changeType: '--type',
  title: '--title',
  impactLevel: '--impact',
  affectedSystems: '--systems',
  version: '--version',
  ticket: '--ticket',
  rollbackInstructions: '--rollback-instructions',
  testingNotes: '--testing-notes',
  approvedBy: '--approved-by',
  performedBy: '--performed-by',
  description: '--description',
  changeRequestId: '--change-request',
  documentationUrl: '--documentation-url',
  gitCommit: '--commit',
  gitBranch: '--branch',
  gitCommittedAt: '--committed-at',
  deployedAt: '--deployed-at',
  environment: '--environment',
  metadata: '--metadata',
  status: '--status',
  by: '--by',
  reason: '--note',
  notes: '--note',
  note: '--note',
  revertsCommit: '--reverts',
  approvalStatus: '--status',
  impact: '--impact',
  from: '--from',
  to: '--to',
  limit: '--limit',
  cursor: '--cursor',
};

/** Re-throws a validation error with the CLI option named, keeping code and field. */
function withFlag(err: unknown): never {
  if (isTrailguardError(err) && err.field) {
    const root = err.field.split(/[.[]/)[0] ?? err.field;
    const flag = FLAGS[root];
    if (flag)
      throw new TrailguardError(err.code, `${err.message} (option ${flag})`, {
        field: err.field,
        cause: err,
      });
  }
  throw err;
}

/**
 * The commit time read from CI or git, unless it is later than the deployment: the library refuses
 * that (lead time would be negative), and a committer's clock running ahead of the CI runner's must
 * not fail the pipeline's logging step. The change is then logged without a commit time (no lead
 * time), with a warning. A --committed-at given by hand is passed as is, and refused if later.
 */
function detectedCommitTime(detected: string | null, deployedAt: string | undefined): string | null {
  if (detected === null) return null;
  const commit = Date.parse(detected);
  const deploy = deployedAt === undefined ? Date.now() : Date.parse(deployedAt);
  if (Number.isNaN(commit) || Number.isNaN(deploy) || commit <= deploy) return detected;
  process.stderr.write(
    `trailguard: warning: the commit time ${detected} is later than the deployment; logged without a commit time (pass --committed-at to set it)\n`,
  );
  return null;
}

/** Runs `f`, naming the option of a field it rejects, as `withFlag` does for the library's errors. */
function withFlagSync<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    return withFlag(err);
  }
}

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

function person(id: string | undefined, name: string | undefined, ci: CiContext, what: string) {
  if (id !== undefined) return { id, name: name ?? id };
  if (ci.performer) return ci.performer;
  throw invalid(
    'by',
    `cannot tell who ${what}: pass --${what === 'performed the change' ? 'performed-by' : 'by'}`,
  );
}

function parseMetadata(value: string | undefined): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw invalid('metadata', 'must be a JSON object');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw invalid('metadata', 'must be a JSON object');
  return parsed as Record<string, unknown>;
}

function iso(d: Date | null): string {
  return d === null ? '-' : d.toISOString();
}

function who(p: { id: string; name: string } | null): string {
  if (p === null) return '-';
  return p.name === p.id ? p.id : `${p.name} (${p.id})`;
}

function describeChange(c: Change): string {
  const lines: [string, string][] = [
    ['id', c.id],
    ['type', c.changeType],
    ['title', c.title],
    ['impact', c.impactLevel],
    ['environment', c.environment],
    ['systems', c.affectedSystems.join(', ') || '-'],
    ['version', c.version ?? '-'],
    ['approval', c.approvalStatus + (c.approvedBy ? ` by ${who(c.approvedBy)} at ${iso(c.approvedAt)}` : '')],
    ['performed by', who(c.performedBy)],
    ['deployed at', iso(c.deployedAt)],
    ['validation', c.validationStatus],
    [
      'rolled back',
      c.rolledBack
        ? `yes, at ${iso(c.rolledBackAt)} by ${who(c.rolledBackBy)}${c.rollbackForced ? ' (forced)' : ''}`
        : c.canRollback
          ? 'no'
          : 'no (cannot be rolled back)',
    ],
    ['commit', c.gitCommit ? `${c.gitCommit}${c.gitBranch ? ` on ${c.gitBranch}` : ''}` : '-'],
    ['ticket', c.ticket ?? '-'],
  ];
  if (c.description) lines.push(['description', c.description]);
  return lines.map(([k, v]) => `${k.padEnd(13)}${v}`).join('\n');
}

function describeHistory(c: ChangeWithHistory): string {
  return c.history
    .map((h) => {
      const change =
        h.field === null ? '' : `: ${h.field} ${JSON.stringify(h.oldValue)} → ${JSON.stringify(h.newValue)}`;
      return `${h.at.toISOString()}  ${h.action.padEnd(11)} by ${who(h.by)}${change}${h.note ? `  — ${h.note}` : ''}`;
    })
    .join('\n');
}

function printChange(c: Change, json: boolean | undefined): void {
  out(json ? JSON.stringify(c, null, 2) : describeChange(c));
}

interface LogOptions {
  type: string;
  title: string;
  impact?: string;
  systems?: string;
  version?: string;
  ticket?: string;
  description?: string;
  changeRequest?: string;
  rollbackInstructions?: string;
  testingNotes?: string;
  documentationUrl?: string;
  approvedBy?: string;
  approvedByName?: string;
  emergency?: boolean;
  performedBy?: string;
  performerName?: string;
  commit?: string;
  branch?: string;
  committedAt?: string;
  deployedAt?: string;
  environment?: string;
  rollback: boolean;
  metadata?: string;
  reverts?: string;
  json?: boolean;
}

function registerLog(change: Command): void {
  change
    .command('log')
    .description(
      'record a change; fills commit, branch, commit time and performer from CI or git; prints the id',
    )
    .requiredOption('--type <type>', `change type (${CHANGE_TYPES.join(', ')})`)
    .requiredOption('--title <title>', 'brief title')
    .option('--impact <level>', `impact level (${IMPACT_LEVELS.join(', ')})`, 'medium')
    .option('--systems <list>', 'affected systems, comma-separated (api,auth)')
    .option('--version <version>', 'version deployed (v1.2.3)')
    .option('--ticket <ref>', 'Jira or tracker reference')
    .option('--description <text>', 'detailed description')
    .option('--change-request <id>', 'change request id (CAB, RFC)')
    .option('--rollback-instructions <text>', 'how to roll it back')
    .option('--testing-notes <text>', 'testing performed before deployment')
    .option('--documentation-url <url>', 'http(s) link to documentation')
    .option('--approved-by <id>', 'who approved it beforehand (must not be the performer)')
    .option('--approved-by-name <name>', 'display name of the approver')
    .option('--emergency', 'made before approval; stays flagged until approved after the fact')
    .option('--performed-by <id>', 'performer id (default: the CI actor or git user)')
    .option('--performer-name <name>', 'performer display name')
    .option('--commit <sha>', 'git commit (default: GITHUB_SHA, CI_COMMIT_SHA or git HEAD)')
    .option('--branch <name>', 'git branch (default: from CI or git)')
    .option('--committed-at <date>', 'commit time, ISO-8601 (default: from CI or git)')
    .option('--deployed-at <date>', 'deployment time, ISO-8601 (default: now)')
    .option('--environment <name>', 'environment', 'production')
    .option('--no-rollback', 'the change cannot be rolled back')
    .option('--metadata <json>', 'extra JSON object')
    .option(
      '--reverts <sha>',
      'the commit this change reverts (default: read from the commit\'s "This reverts commit" message)',
    )
    .option('--json', 'print the stored change as JSON instead of its id')
    .action(async (opts: LogOptions, cmd: Command) => {
      if (opts.emergency && opts.approvedBy !== undefined)
        throw invalid('approvedBy', '--approved-by and --emergency exclude each other');
      // An empty version is an unset variable, not "no version": the library would store null.
      if (opts.version !== undefined && opts.version.trim() === '')
        withFlag(invalid('version', 'must not be empty'));
      const ci = await detectCiContext();
      if (opts.reverts !== undefined && !/^[0-9a-f]{7,64}$/i.test(opts.reverts.trim()))
        withFlag(invalid('revertsCommit', 'must be a hex commit hash (7–64 characters)'));
      const revertsCommit =
        opts.reverts?.trim().toLowerCase() ??
        (opts.commit === undefined ? await detectRevertedCommit(ci.gitCommit) : null);
      const input: LogChangeInput = {
        changeType: opts.type as LogChangeInput['changeType'],
        title: opts.title,
        impactLevel: opts.impact as LogChangeInput['impactLevel'],
        performedBy: person(opts.performedBy, opts.performerName, ci, 'performed the change'),
        affectedSystems: (opts.systems ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
        version: opts.version,
        ticket: opts.ticket,
        description: opts.description,
        changeRequestId: opts.changeRequest,
        rollbackInstructions: opts.rollbackInstructions,
        testingNotes: opts.testingNotes,
        documentationUrl: opts.documentationUrl,
        canRollback: opts.rollback,
        gitCommit: opts.commit ?? ci.gitCommit,
        gitBranch: opts.branch ?? ci.gitBranch,
        gitCommittedAt: opts.committedAt ?? detectedCommitTime(ci.gitCommittedAt, opts.deployedAt),
        deployedAt: opts.deployedAt,
        environment: opts.environment,
        metadata: {
          ...(ci.runUrl ? { ciRunUrl: ci.runUrl } : {}),
          loggedFrom: ci.source,
          ...(revertsCommit ? { revertsCommit } : {}),
          ...withFlagSync(() => parseMetadata(opts.metadata)),
        },
      };
      if (opts.approvedBy !== undefined) {
        input.approvalStatus = 'approved';
        input.approvedBy = { id: opts.approvedBy, name: opts.approvedByName ?? opts.approvedBy };
      } else if (opts.emergency) {
        input.approvalStatus = 'emergency';
      }
      await withTrailguard(cmd, async (tg) => {
        const change = await tg.changes.log(input).catch(withFlag);
        out(opts.json ? JSON.stringify(change, null, 2) : change.id);
      });
    });
}

interface ByOptions {
  by?: string;
  byName?: string;
  json?: boolean;
}

function byOptions(cmd: Command): Command {
  return cmd
    .option('--by <id>', 'who acts (default: the CI actor or git user)')
    .option('--by-name <name>', 'display name of --by')
    .option('--json', 'print the change as JSON');
}

async function actorFrom(opts: ByOptions): Promise<{ id: string; name: string }> {
  if (opts.by !== undefined) return { id: opts.by, name: opts.byName ?? opts.by };
  return person(undefined, undefined, await detectCiContext(), 'acts');
}

/** Every action takes its note as `--note`; `--reason` and `--notes` are the old names, still accepted. */
interface NoteOptions {
  note?: string;
  reason?: string;
  notes?: string;
}

function noteOf(opts: NoteOptions): string | undefined {
  return opts.note ?? opts.reason ?? opts.notes;
}

function registerTransitions(change: Command): void {
  byOptions(change.command('approve').argument('<id>', 'change id').option('--note <text>', 'approval note'))
    .description('approve a pending or emergency change (not by its performer)')
    .action(async (id: string, opts: ByOptions & { note?: string }, cmd: Command) => {
      const by = await actorFrom(opts);
      await withTrailguard(cmd, async (tg) => {
        printChange(await tg.changes.approve(id, { by, note: opts.note }).catch(withFlag), opts.json);
      });
    });

  byOptions(
    change
      .command('reject')
      .argument('<id>', 'change id')
      .option('--note <text>', 'why (required)')
      .addOption(new Option('--reason <text>', 'old name of --note').hideHelp()),
  )
    .description('reject a pending or emergency change (final)')
    .action(async (id: string, opts: ByOptions & NoteOptions, cmd: Command) => {
      const reason = noteOf(opts);
      if (reason === undefined) withFlag(invalid('reason', 'is required: say why'));
      const by = await actorFrom(opts);
      await withTrailguard(cmd, async (tg) => {
        printChange(await tg.changes.reject(id, { by, reason }).catch(withFlag), opts.json);
      });
    });

  byOptions(
    change
      .command('rollback')
      .argument('<id>', 'change id')
      .option('--note <text>', 'why and how it was rolled back')
      .addOption(new Option('--notes <text>', 'old name of --note').hideHelp())
      .option('--force', 'record the rollback even though the change is marked as not rollbackable'),
  )
    .description('mark a change as rolled back (once)')
    .action(async (id: string, opts: ByOptions & NoteOptions & { force?: boolean }, cmd: Command) => {
      const by = await actorFrom(opts);
      await withTrailguard(cmd, async (tg) => {
        const c = await tg.changes
          .markRolledBack(id, { by, notes: noteOf(opts), force: opts.force === true })
          .catch(withFlag);
        printChange(c, opts.json);
      });
    });

  byOptions(
    change
      .command('validate')
      .argument('<id>', 'change id')
      .addOption(
        new Option('--status <status>', 'validation outcome')
          .choices([...VALIDATION_STATUSES])
          .makeOptionMandatory(),
      )
      .option('--note <text>', 'what was checked')
      .addOption(new Option('--notes <text>', 'old name of --note').hideHelp()),
  )
    .description('record the validation outcome (e.g. after smoke tests)')
    .action(async (id: string, opts: ByOptions & NoteOptions & { status: string }, cmd: Command) => {
      const by = await actorFrom(opts);
      await withTrailguard(cmd, async (tg) => {
        const c = await tg.changes
          .setValidation(id, {
            status: opts.status as (typeof VALIDATION_STATUSES)[number],
            by,
            notes: noteOf(opts),
          })
          .catch(withFlag);
        printChange(c, opts.json);
      });
    });
}

interface ListOptions {
  type?: string;
  impact?: string;
  status?: string;
  rolledBack?: boolean;
  environment?: string;
  search?: string;
  from?: string;
  to?: string;
  limit?: string;
  cursor?: string;
  json?: boolean;
}

function registerReads(change: Command): void {
  change
    .command('show')
    .argument('<id>', 'change id')
    .option('--json', 'print the change and its history as JSON')
    .description('show a change and its history')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      await withTrailguard(cmd, async (tg) => {
        const c = await tg.changes.get(id);
        out(
          opts.json ? JSON.stringify(c, null, 2) : `${describeChange(c)}\n\nhistory\n${describeHistory(c)}`,
        );
      });
    });

  change
    .command('list')
    .description('list changes, newest deployment first')
    .option('--type <type>', `change type (${CHANGE_TYPES.join(', ')})`)
    .option('--impact <level>', `impact level (${IMPACT_LEVELS.join(', ')})`)
    .option('--status <status>', `approval status (${APPROVAL_STATUSES.join(', ')})`)
    .option('--rolled-back', 'only rolled-back changes')
    .option('--not-rolled-back', 'only changes not rolled back')
    .option('--environment <name>', 'environment')
    .option('--search <text>', 'search title, description, version, ticket and commit')
    .option('--from <date>', 'deployed at or after (ISO-8601)')
    .option('--to <date>', 'deployed before (ISO-8601)')
    .option('--limit <n>', 'page size (default 50, max 1000)')
    .option('--cursor <cursor>', 'next page cursor from a previous --json list')
    .option('--json', 'print { items, nextCursor } as JSON')
    .action(async (opts: ListOptions & { notRolledBack?: boolean }, cmd: Command) => {
      if (opts.limit !== undefined && !/^\d+$/.test(opts.limit))
        throw invalid('limit', 'must be a whole number');
      await withTrailguard(cmd, async (tg) => {
        const page = await tg.changes
          .list({
            changeType: opts.type as never,
            impactLevel: opts.impact as never,
            approvalStatus: opts.status as never,
            rolledBack: opts.rolledBack ? true : opts.notRolledBack ? false : undefined,
            environment: opts.environment,
            search: opts.search,
            from: opts.from,
            to: opts.to,
            limit: opts.limit === undefined ? undefined : Number(opts.limit),
            cursor: opts.cursor,
          })
          .catch(withFlag);
        if (opts.json) {
          out(JSON.stringify(page, null, 2));
          return;
        }
        if (page.items.length === 0) {
          out('no changes');
          return;
        }
        for (const c of page.items) {
          const flags = [
            c.approvalStatus,
            c.rolledBack ? 'rolled back' : null,
            `validation ${c.validationStatus}`,
          ]
            .filter(Boolean)
            .join(', ');
          out(
            `${c.id}  ${c.deployedAt.toISOString()}  ${c.changeType.padEnd(15)} ${c.impactLevel.padEnd(8)} ${c.title}  [${flags}]`,
          );
        }
        if (page.nextCursor) out(`more: --cursor ${page.nextCursor}`);
      });
    });
}

/**
 * Commander lets a parent's options match after the subcommand, so the root's `--version` (print and
 * exit) would swallow `change log --version v1.2.3`. After the `change` token, `--version X` is given
 * to commander as `--version=X`, a form the root's boolean flag does not take. A `--version` with no
 * value after it (an unset CI variable: `--version $VERSION`) or followed by an option is an error
 * naming the option: left alone it printed the program's version and exited 0, which a pipeline
 * would capture as the change id. A value that starts with '-' is given as `--version=-rc1`.
 */
export function protectVersionOption(args: readonly string[]): string[] {
  const at = args.indexOf('change');
  if (at < 0) return [...args];
  const out = args.slice(0, at + 1);
  for (let i = at + 1; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    if (arg === '--') {
      out.push(...args.slice(i));
      break;
    }
    if (arg === '--version') {
      if (next === undefined || next.startsWith('-'))
        throw invalid(
          'version',
          `option --version needs a value${next === undefined ? '' : ` (got '${next}' next; write --version=${next} if that is the value)`}`,
        );
      out.push(`--version=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

export function registerChange(program: Command): void {
  const parseRoot = program.parseOptions.bind(program);
  program.parseOptions = (args) => parseRoot(protectVersionOption(args));
  const change = program
    .command('change')
    .description('the production change log (for CI pipelines and reviewers)');
  registerLog(change);
  registerTransitions(change);
  registerReads(change);
  registerChangeReport(change);
}
