/**
 * What a CI job knows about the change it deploys: commit, branch, commit time and who triggered it,
 * from GitHub Actions or GitLab CI variables, else from the git checkout (git is run with execFile,
 * never through a shell).
 * @module
 */
import { execFile } from 'node:child_process';

/** The change's origin as far as the pipeline can tell; null where unknown. */
export interface CiContext {
  /** `github-actions`, `gitlab-ci` or `git`. */
  source: 'github-actions' | 'gitlab-ci' | 'git';
  gitCommit: string | null;
  gitBranch: string | null;
  gitCommittedAt: string | null;
  performer: { id: string; name: string } | null;
  /** Link to the pipeline run, when the CI tells it. */
  runUrl: string | null;
}

/** Runs `git args…` and resolves with trimmed stdout, or null when git fails or is missing. */
export type GitRunner = (args: string[]) => Promise<string | null>;

/** The real git, in `cwd`. */
export function gitRunner(cwd: string = process.cwd()): GitRunner {
  return (args) =>
    new Promise((resolve) => {
      execFile('git', args, { cwd, timeout: 10_000, windowsHide: true }, (err, stdout) => {
        const out = typeof stdout === 'string' ? stdout.trim() : '';
        resolve(err || out === '' ? null : out);
      });
    });
}

const nonEmpty = (v: string | undefined): string | null =>
  v !== undefined && v.trim() !== '' ? v.trim() : null;

/** Reads the CI variables, falling back to git for whatever they do not say. */
export async function detectCiContext(
  env: NodeJS.ProcessEnv = process.env,
  git: GitRunner = gitRunner(),
): Promise<CiContext> {
  let ctx: CiContext;
  if (env['GITHUB_ACTIONS'] === 'true') {
    const actor = nonEmpty(env['GITHUB_TRIGGERING_ACTOR']) ?? nonEmpty(env['GITHUB_ACTOR']);
    const server = nonEmpty(env['GITHUB_SERVER_URL']);
    const repo = nonEmpty(env['GITHUB_REPOSITORY']);
    const run = nonEmpty(env['GITHUB_RUN_ID']);
    ctx = {
      source: 'github-actions',
      gitCommit: nonEmpty(env['GITHUB_SHA']),
      // On pull_request events GITHUB_REF_NAME is `123/merge`; the head branch is the meaningful one.
      gitBranch: nonEmpty(env['GITHUB_HEAD_REF']) ?? nonEmpty(env['GITHUB_REF_NAME']),
      gitCommittedAt: null,
      performer: actor ? { id: actor, name: actor } : null,
      runUrl: server && repo && run ? `${server}/${repo}/actions/runs/${run}` : null,
    };
  } else if (env['GITLAB_CI'] === 'true') {
    const login = nonEmpty(env['GITLAB_USER_LOGIN']);
    ctx = {
      source: 'gitlab-ci',
      gitCommit: nonEmpty(env['CI_COMMIT_SHA']),
      gitBranch: nonEmpty(env['CI_COMMIT_REF_NAME']) ?? nonEmpty(env['CI_COMMIT_BRANCH']),
      gitCommittedAt: nonEmpty(env['CI_COMMIT_TIMESTAMP']),
      performer: login ? { id: login, name: nonEmpty(env['GITLAB_USER_NAME']) ?? login } : null,
      runUrl: nonEmpty(env['CI_PIPELINE_URL']),
    };
  } else {
    ctx = {
      source: 'git',
      gitCommit: null,
      gitBranch: null,
      gitCommittedAt: null,
      performer: null,
      runUrl: null,
    };
  }

  ctx.gitCommit ??= await git(['rev-parse', 'HEAD']);
  if (ctx.gitBranch === null) {
    const branch = await git(['rev-parse', '--abbrev-ref', 'HEAD']);
    ctx.gitBranch = branch === 'HEAD' ? null : branch; // detached HEAD has no branch
  }
  if (ctx.gitCommittedAt === null && ctx.gitCommit !== null) {
    ctx.gitCommittedAt = await git(['show', '-s', '--format=%cI', ctx.gitCommit]);
  }
  if (ctx.performer === null) {
    const email = await git(['config', 'user.email']);
    const name = await git(['config', 'user.name']);
    const user = nonEmpty(env['USER']) ?? nonEmpty(env['USERNAME']);
    const id = email ?? name ?? user;
    if (id !== null) ctx.performer = { id, name: name ?? id };
  }
  return ctx;
}

/**
 * The commit that `commit` reverts, from git's revert message ("This reverts commit <sha>."), or null.
 * Logged as the change's `metadata.revertsCommit`, it lets an incident recognise the revert as its remedy.
 */
export async function detectRevertedCommit(
  commit: string | null,
  git: GitRunner = gitRunner(),
): Promise<string | null> {
  if (commit === null || !/^[0-9a-f]{7,64}$/i.test(commit)) return null;
  const message = await git(['show', '-s', '--format=%B', commit]);
  const m = message === null ? null : /this reverts commit ([0-9a-f]{7,64})/i.exec(message);
  return m?.[1]?.toLowerCase() ?? null;
}
