import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { forEachBackend, createTestDatabase } from '../../test/helpers/backends.ts';
import { detectCiContext } from './ci-context.ts';
import type { GitRunner } from './ci-context.ts';
import { protectVersionOption } from './change-command.ts';

// The built bin when `npm test` has built it (a fraction of tsx's start-up time); the source otherwise.
const BUILT = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const CLI = existsSync(BUILT)
  ? [BUILT]
  : ['--import', import.meta.resolve('tsx'), fileURLToPath(new URL('./main.ts', import.meta.url))];

/** A fake git that answers from a table and fails for anything else. */
function fakeGit(answers: Record<string, string>): GitRunner {
  return async (args) => answers[args.join(' ')] ?? null;
}

describe('CI context', () => {
  const git = fakeGit({
    'rev-parse HEAD': '1111111111111111111111111111111111111111',
    'rev-parse --abbrev-ref HEAD': 'main',
    'show -s --format=%cI 2222222222222222222222222222222222222222': '2024-03-01T08:00:00+00:00',
    'show -s --format=%cI 1111111111111111111111111111111111111111': '2024-02-01T08:00:00+00:00',
    'config user.email': 'ann@example.com',
    'config user.name': 'Ann Lee',
  });

  it('reads GitHub Actions variables, and the commit time from the checkout', async () => {
    const ctx = await detectCiContext(
      {
        GITHUB_ACTIONS: 'true',
        GITHUB_SHA: '2222222222222222222222222222222222222222',
        GITHUB_REF_NAME: 'release/2024-03',
        GITHUB_ACTOR: 'octocat',
        GITHUB_SERVER_URL: 'https://github.com',
        GITHUB_REPOSITORY: 'acme/shop',
        GITHUB_RUN_ID: '99',
      },
      git,
    );
    assert.deepEqual(ctx, {
      source: 'github-actions',
      gitCommit: '2222222222222222222222222222222222222222',
      gitBranch: 'release/2024-03',
      gitCommittedAt: '2024-03-01T08:00:00+00:00',
      performer: { id: 'octocat', name: 'octocat' },
      runUrl: 'https://github.com/acme/shop/actions/runs/99',
    });
  });

  it('prefers the pull request head branch on GitHub', async () => {
    const ctx = await detectCiContext(
      {
        GITHUB_ACTIONS: 'true',
        GITHUB_REF_NAME: '12/merge',
        GITHUB_HEAD_REF: 'feature/x',
        GITHUB_ACTOR: 'a',
      },
      git,
    );
    assert.equal(ctx.gitBranch, 'feature/x');
  });

  it('reads GitLab CI variables', async () => {
    const ctx = await detectCiContext(
      {
        GITLAB_CI: 'true',
        CI_COMMIT_SHA: '3333333333333333333333333333333333333333',
        CI_COMMIT_REF_NAME: 'main',
        CI_COMMIT_TIMESTAMP: '2024-03-02T10:00:00+00:00',
        GITLAB_USER_LOGIN: 'bob',
        GITLAB_USER_NAME: 'Bob Smith',
        CI_PIPELINE_URL: 'https://gitlab.example.com/acme/shop/-/pipelines/5',
      },
      git,
    );
    assert.deepEqual(ctx, {
      source: 'gitlab-ci',
      gitCommit: '3333333333333333333333333333333333333333',
      gitBranch: 'main',
      gitCommittedAt: '2024-03-02T10:00:00+00:00',
      performer: { id: 'bob', name: 'Bob Smith' },
      runUrl: 'https://gitlab.example.com/acme/shop/-/pipelines/5',
    });
  });

  it('falls back to git for everything outside CI', async () => {
    const ctx = await detectCiContext({}, git);
    assert.deepEqual(ctx, {
      source: 'git',
      gitCommit: '1111111111111111111111111111111111111111',
      gitBranch: 'main',
      gitCommittedAt: '2024-02-01T08:00:00+00:00',
      performer: { id: 'ann@example.com', name: 'Ann Lee' },
      runUrl: null,
    });
  });

  it('reports a detached HEAD as no branch, and knows nothing without git or CI', async () => {
    const detached = await detectCiContext({}, fakeGit({ 'rev-parse --abbrev-ref HEAD': 'HEAD' }));
    assert.equal(detached.gitBranch, null);
    const nothing = await detectCiContext({}, fakeGit({}));
    assert.deepEqual(nothing.performer, null);
    assert.equal(nothing.gitCommit, null);
  });
});

describe('change log --version', () => {
  it('is kept for the subcommand instead of printing the program version', () => {
    assert.deepEqual(
      protectVersionOption(['--data-dir', 'x', 'change', 'log', '--version', 'v1.2.3', '--json']),
      ['--data-dir', 'x', 'change', 'log', '--version=v1.2.3', '--json'],
    );
    assert.deepEqual(protectVersionOption(['--version']), ['--version']);
  });

  it('refuses a --version with no value or an option after it, naming the option', () => {
    for (const args of [
      ['change', 'log', '--title', 'x', '--version'],
      ['change', 'log', '--version', '--rollback-instructions', 'redeploy'],
      ['change', 'log', '--version', '-rc1'],
    ]) {
      assert.throws(
        () => protectVersionOption(args),
        (err: { code?: string; field?: string; message?: string }) =>
          err.code === 'VALIDATION_FAILED' && err.field === 'version' && /--version/.test(err.message ?? ''),
        args.join(' '),
      );
    }
    assert.deepEqual(protectVersionOption(['change', 'log', '--version=-rc1']), [
      'change',
      'log',
      '--version=-rc1',
    ]);
  });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

forEachBackend('trailguard change (CLI in a git repository)', (backend) => {
  let dir: string;
  let repo: string;
  let head: string;
  let globalArgs: string[];
  let dropDb: (() => Promise<void>) | undefined;
  const baseEnv: NodeJS.ProcessEnv = {};

  function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [...CLI, ...globalArgs, ...args],
        { cwd: repo, env: { ...baseEnv, ...env }, timeout: 60_000 },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          resolve({ code, stdout: String(stdout), stderr: String(stderr) });
        },
      );
    });
  }

  async function ok(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
    const r = await run(args, env);
    assert.equal(r.code, 0, `trailguard ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout.trim();
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tg-change-cli-'));
    repo = join(dir, 'repo');
    // A clean environment: no CI variables or database settings from the machine running the tests.
    for (const [k, v] of Object.entries(process.env)) {
      if (/^(GITHUB_|GITLAB_|CI_|CI$|DATABASE_URL$|TRAILGUARD_|GIT_)/.test(k)) continue;
      baseEnv[k] = v;
    }
    Object.assign(baseEnv, { HOME: dir, GIT_CONFIG_NOSYSTEM: '1', TRAILGUARD_LOG_LEVEL: 'silent' });
    const git = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      execFileSync('git', args, { cwd: repo, env: { ...baseEnv, ...env }, encoding: 'utf8' }).trim();
    execFileSync('git', ['init', '-q', '-b', 'main', repo], { env: baseEnv });
    git(['config', 'user.email', 'ann@example.com']);
    git(['config', 'user.name', 'Ann Lee']);
    const dates = { GIT_AUTHOR_DATE: '2024-03-01T07:00:00Z', GIT_COMMITTER_DATE: '2024-03-01T07:00:00Z' };
    git(['commit', '-q', '--allow-empty', '-m', 'first'], dates);
    git(['commit', '-q', '--allow-empty', '-m', 'second'], {
      GIT_AUTHOR_DATE: '2024-03-01T08:00:00Z',
      GIT_COMMITTER_DATE: '2024-03-01T08:00:00Z',
    });
    head = git(['rev-parse', 'HEAD']);
    if (backend === 'postgres') {
      const db = await createTestDatabase();
      dropDb = db.drop;
      globalArgs = ['--database-url', db.url];
    } else {
      globalArgs = ['--data-dir', join(dir, 'db')];
    }
  });

  after(async () => {
    await dropDb?.();
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs a deployment with commit, branch, commit time and performer from the checkout; prints the id', async () => {
    const id = await ok([
      'change',
      'log',
      '--type',
      'deployment',
      '--title',
      'Deploy v1.2.3',
      '--impact',
      'high',
      '--systems',
      'api, auth',
      '--version',
      'v1.2.3',
      '--ticket',
      'OPS-7',
      '--rollback-instructions',
      'redeploy v1.2.2',
      '--testing-notes',
      'e2e green',
      '--approved-by',
      'bob',
    ]);
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const shown = JSON.parse(await ok(['change', 'show', id, '--json'])) as Record<string, unknown>;
    assert.equal(shown['changeType'], 'deployment');
    assert.equal(shown['title'], 'Deploy v1.2.3');
    assert.equal(shown['impactLevel'], 'high');
    assert.deepEqual(shown['affectedSystems'], ['api', 'auth']);
    assert.equal(shown['version'], 'v1.2.3');
    assert.equal(shown['ticket'], 'OPS-7');
    assert.equal(shown['rollbackInstructions'], 'redeploy v1.2.2');
    assert.equal(shown['testingNotes'], 'e2e green');
    assert.equal(shown['approvalStatus'], 'approved');
    assert.deepEqual(shown['approvedBy'], { id: 'bob', name: 'bob' });
    assert.equal(shown['gitCommit'], head);
    assert.equal(shown['gitBranch'], 'main');
    assert.equal(shown['gitCommittedAt'], '2024-03-01T08:00:00.000Z');
    assert.deepEqual(shown['performedBy'], { id: 'ann@example.com', name: 'Ann Lee' });
    assert.equal(shown['environment'], 'production');
    assert.equal((shown['history'] as unknown[]).length, 1);
  });

  it('takes commit, branch and performer from GitHub Actions variables', async () => {
    const out = await ok(
      ['change', 'log', '--type', 'configuration', '--title', 'Rate limit 200', '--json'],
      {
        GITHUB_ACTIONS: 'true',
        GITHUB_SHA: head,
        GITHUB_REF_NAME: 'release',
        GITHUB_ACTOR: 'octocat',
      },
    );
    const c = JSON.parse(out) as Record<string, unknown>;
    assert.deepEqual(c['performedBy'], { id: 'octocat', name: 'octocat' });
    assert.equal(c['gitBranch'], 'release');
    assert.equal(c['gitCommit'], head);
    assert.equal(c['gitCommittedAt'], '2024-03-01T08:00:00.000Z');
    assert.equal((c['metadata'] as Record<string, unknown>)['loggedFrom'], 'github-actions');
  });

  it('walks an emergency change through approval, validation and one rollback', async () => {
    const id = await ok([
      'change',
      'log',
      '--type',
      'security_update',
      '--title',
      'Hotfix',
      '--impact',
      'critical',
      '--emergency',
    ]);
    const self = await run(['change', 'approve', id]);
    assert.equal(self.code, 1);
    assert.match(self.stderr, /CHANGE_SELF_APPROVAL/);
    assert.match(self.stderr, /separation of duties/);

    const approved = JSON.parse(
      await ok(['change', 'approve', id, '--by', 'carl', '--by-name', 'Carl', '--note', 'ok', '--json']),
    );
    assert.equal(approved.approvalStatus, 'approved');
    assert.deepEqual(approved.approvedBy, { id: 'carl', name: 'Carl' });

    const validated = JSON.parse(
      await ok(['change', 'validate', id, '--status', 'passed', '--notes', 'smoke', '--json']),
    );
    assert.equal(validated.validationStatus, 'passed');

    const rolled = JSON.parse(
      await ok(['change', 'rollback', id, '--by', 'carl', '--notes', 'latency', '--json']),
    );
    assert.equal(rolled.rolledBack, true);
    const again = await run(['change', 'rollback', id, '--by', 'carl']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /CHANGE_ALREADY_ROLLED_BACK/);

    const text = await ok(['change', 'show', id]);
    assert.match(text, /title\s+Hotfix/);
    assert.match(text, /approval\s+approved by Carl \(carl\)/);
    const history = text.slice(text.indexOf('\nhistory\n') + 9).split('\n');
    assert.deepEqual(
      history.map((line) => {
        const m = /^\S+\s+(\S+)\s+by [^:]+(?:: (\w+) )?/.exec(line);
        return `${m?.[1]}:${m?.[2] ?? '-'}`;
      }),
      [
        'created:-',
        'approved:approvalStatus',
        'approved:approvedBy',
        'approved:approvedAt',
        'validated:validationStatus',
        'rolled_back:rolledBack',
        'rolled_back:rolledBackAt',
        'rolled_back:rolledBackBy',
        'rolled_back:rollbackNotes',
      ],
    );
  });

  it('exits non-zero with a clear message on bad input and writes nothing', async () => {
    const badType = await run(['change', 'log', '--type', 'deploy', '--title', 'x']);
    assert.equal(badType.code, 1);
    assert.match(badType.stderr, /changeType: must be one of: deployment, configuration/);
    assert.match(badType.stderr, /--type/);
    const badUrl = await run([
      'change',
      'log',
      '--type',
      'deployment',
      '--title',
      'x',
      '--documentation-url',
      'ftp://x',
    ]);
    assert.equal(badUrl.code, 1);
    assert.match(badUrl.stderr, /documentationUrl: must be an http\(s\) URL/);
    const badCommit = await run(['change', 'log', '--type', 'deployment', '--title', 'x', '--commit', 'xyz']);
    assert.equal(badCommit.code, 1);
    assert.match(badCommit.stderr, /gitCommit: must be a hex commit hash/);
    const noTitle = await run(['change', 'log', '--type', 'deployment']);
    assert.notEqual(noTitle.code, 0);
    assert.match(noTitle.stderr, /--title/);
    // An unset CI variable (`--version $VERSION`) must not print the program version and exit 0.
    for (const version of [[], ['-rc1'], ['--version=']]) {
      const args = ['change', 'log', '--type', 'deployment', '--title', 'x', '--performed-by', 'ann'];
      const r = await run(
        version[0] === '--version=' ? [...args, '--version='] : [...args, '--version', ...version],
      );
      assert.equal(r.code, 1, `--version ${version.join(' ')}: ${r.stdout}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /--version/);
      assert.match(r.stderr, /field version/);
    }
    const badMetadata = await run([
      'change',
      'log',
      '--type',
      'deployment',
      '--title',
      'x',
      '--metadata',
      '[1]',
    ]);
    assert.equal(badMetadata.code, 1);
    assert.match(badMetadata.stderr, /metadata: must be a JSON object \(option --metadata\)/);
    const unknown = await run(['change', 'show', '01900000-0000-7000-8000-000000000000']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /CHANGE_NOT_FOUND/);
  });

  it('lists and searches changes (and the bad input above left nothing behind)', async () => {
    const all = JSON.parse(await ok(['change', 'list', '--json']));
    assert.deepEqual(
      all.items.map((c: { title: string }) => c.title),
      ['Hotfix', 'Rate limit 200', 'Deploy v1.2.3'],
    );
    const page = JSON.parse(await ok(['change', 'list', '--search', 'v1.2.3', '--json']));
    assert.deepEqual(
      page.items.map((c: { title: string }) => c.title),
      ['Deploy v1.2.3'],
    );
    const text = await ok(['change', 'list', '--rolled-back']);
    assert.match(text, /security_update\s+critical\s+Hotfix/);
    assert.doesNotMatch(text, /Deploy v1\.2\.3/);
  });

  it('refuses a --committed-at after the deployment, but logs a detected later commit time as none', async () => {
    const base = ['change', 'log', '--type', 'deployment', '--title', 'Early', '--deployed-at'];
    const given = await run([...base, '2024-03-01T07:30:00Z', '--committed-at', '2024-03-01T07:45:00Z']);
    assert.equal(given.code, 1);
    assert.match(given.stderr, /gitCommittedAt: must not be later than deployedAt \(option --committed-at\)/);
    // The checkout's HEAD was committed at 08:00, after this deployment time.
    const r = await run([...base, '2024-03-01T07:30:00Z', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: the commit time .* is later than the deployment/);
    const c = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(c['gitCommittedAt'], null);
    assert.equal(c['gitCommit'], head);
  });
});
