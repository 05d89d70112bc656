import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, forEachBackend } from '../../test/helpers/backends.ts';
import { main } from './program.ts';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

forEachBackend('trailguard incident, change report, change await (CLI)', (backend) => {
  let dir: string;
  let globalArgs: string[];
  let dropDb: (() => Promise<void>) | undefined;

  // In-process, through the same entry point as the bin (main), capturing what it prints and the exit
  // code it sets: a subprocess per command costs more start-up time than the commands themselves.
  async function run(args: string[]): Promise<Run> {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const write = { out: process.stdout.write, err: process.stderr.write };
    // The CLI writes strings; the test runner's own reports (binary) go through untouched.
    const capture =
      (into: string[], original: typeof process.stdout.write) =>
      (chunk: unknown, ...rest: unknown[]): boolean => {
        if (typeof chunk === 'string') return into.push(chunk) > 0;
        return (original as (...a: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
      };
    process.stdout.write = capture(stdout, write.out) as typeof process.stdout.write;
    process.stderr.write = capture(stderr, write.err) as typeof process.stderr.write;
    process.exitCode = undefined;
    try {
      await main(['node', 'trailguard', ...globalArgs, ...args]);
    } finally {
      process.stdout.write = write.out;
      process.stderr.write = write.err;
    }
    const code = Number(process.exitCode ?? 0);
    process.exitCode = undefined;
    return { code, stdout: stdout.join(''), stderr: stderr.join('') };
  }
  async function ok(args: string[]): Promise<string> {
    const r = await run(args);
    assert.equal(r.code, 0, `trailguard ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout.trim();
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tg-incident-cli-'));
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

  it('opens an incident from a deployment, recognises the revert, resolves it once, and reports DORA', async () => {
    const deploy = await ok([
      'change',
      'log',
      '--type',
      'deployment',
      '--title',
      'Deploy v1.3.1',
      '--systems',
      'authentication',
      '--performed-by',
      'ann',
      '--commit',
      'abcdef1234567',
      '--deployed-at',
      '2024-05-01T10:00:00Z',
    ]);
    const id = await ok([
      'incident',
      'open',
      '--title',
      'SSO logins failing',
      '--severity',
      'high',
      '--cause',
      deploy,
      '--by',
      'bob',
      '--started-at',
      '2024-05-01T10:06:00Z',
      '--detected-at',
      '2024-05-01T10:20:00Z',
    ]);
    const revert = await ok([
      'change',
      'log',
      '--type',
      'deployment',
      '--title',
      'Revert v1.3.1',
      '--performed-by',
      'ann',
      '--commit',
      '1234567abc',
      '--reverts',
      'ABCDEF1',
      '--deployed-at',
      '2024-05-01T10:40:00Z',
    ]);
    const shown = JSON.parse(await ok(['incident', 'show', id, '--json']));
    assert.deepEqual(
      shown.causes.map((c: { changeId: string }) => c.changeId),
      [deploy],
    );
    assert.equal(shown.remedy.changeId, revert);
    assert.equal(shown.remedy.via, 'revert');

    const resolved = JSON.parse(
      await ok([
        'incident',
        'resolve',
        id,
        '--by',
        'bob',
        '--note',
        'reverted',
        '--resolved-at',
        '2024-05-01T11:06:00Z',
        '--json',
      ]),
    );
    assert.equal(resolved.status, 'resolved');
    const again = await run(['incident', 'resolve', id, '--by', 'bob']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /INCIDENT_ALREADY_RESOLVED/);
    const missing = await run([
      'incident',
      'link',
      id,
      '01890000-0000-7000-8000-000000000000',
      '--by',
      'bob',
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /INCIDENT_CHANGE_NOT_FOUND/);
    assert.match(await ok(['incident', 'list']), /SSO logins failing/);

    const window = ['--from', '2024-04-20T00:00:00Z', '--to', '2024-05-10T00:00:00Z'];
    const { report, byMonth } = JSON.parse(await ok(['change', 'report', ...window, '--json']));
    assert.equal(report.dora.deployments, 2);
    assert.equal(report.dora.failedDeployments, 1); // the deployment that caused the incident (and was reverted)
    assert.equal(report.dora.changeFailureRate, 50);
    assert.equal(report.dora.timeToRestoreHours, 1); // 10:06 → 11:06
    assert.deepEqual(
      byMonth.map((m: { month: string; total: number }) => [m.month, m.total]),
      [
        ['2024-04', 0],
        ['2024-05', 2],
      ],
    );
    const text = await ok(['change', 'report', ...window]);
    for (const section of [
      'By month and type',
      'High impact',
      'By person',
      'Rollback rate',
      'DORA',
      'authentication',
    ])
      assert.ok(text.includes(section), `${section} in\n${text}`);
  });

  it('takes --note on every action (old names still work) and gates a pipeline with change await', async () => {
    const log = (title: string) =>
      ok(['change', 'log', '--type', 'configuration', '--title', title, '--performed-by', 'ann']);
    const approved = await log('approve me');
    await ok(['change', 'approve', approved, '--by', 'carl', '--note', 'ok']);
    assert.match(await ok(['change', 'await', approved, '--timeout', '5']), /approved by carl/);

    const rejected = await log('reject me');
    await ok(['change', 'reject', rejected, '--by', 'carl', '--note', 'no plan']);
    const r = await run(['change', 'await', rejected, '--timeout', '5']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /rejected: no plan/);
    const old = await log('reject me the old way');
    const shown = JSON.parse(
      await ok(['change', 'reject', old, '--by', 'carl', '--reason', 'old flag', '--json']),
    );
    assert.equal(shown.approvalStatus, 'rejected');
    const noNote = await run(['change', 'reject', await log('no reason'), '--by', 'carl']);
    assert.equal(noNote.code, 1);
    assert.match(noNote.stderr, /option --note/);

    const pending = await log('nobody looks');
    const t = await run(['change', 'await', pending, '--timeout', '0']);
    assert.equal(t.code, 2);
    assert.match(t.stderr, /still pending/);
    const rolled = JSON.parse(
      await ok(['change', 'rollback', pending, '--by', 'carl', '--note', 'undo', '--json']),
    );
    assert.equal(rolled.rollbackNotes, 'undo');
  });
});
