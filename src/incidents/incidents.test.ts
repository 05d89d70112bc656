import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { createTrailguard, manualClock } from '../index.ts';
import type { Incident, LogChangeInput, Trailguard, TrailguardError } from '../index.ts';
import { forEachBackend, openTrailguard } from '../../test/helpers/backends.ts';
import type { ExportedIncident } from './privacy.ts';

const ann = { id: 'u-ann', name: 'Ann' };
const bob = { id: 'u-bob', name: 'Bob' };
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

async function rejectsWith(promise: Promise<unknown>, code: string, field?: string): Promise<void> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught, `expected ${code}, but it resolved`);
  const e = caught as TrailguardError;
  assert.equal(e.code, code, e.message);
  if (field !== undefined) assert.equal(e.field, field, e.message);
}

async function rowCounts(tg: Trailguard): Promise<number[]> {
  const r = await sql<{ i: number; l: number; h: number }>`
    SELECT (SELECT count(*) FROM incident)::int4 AS i, (SELECT count(*) FROM incident_change)::int4 AS l,
      (SELECT count(*) FROM incident_history)::int4 AS h`.execute(tg.database.db);
  const row = r.rows[0]!;
  return [Number(row.i), Number(row.l), Number(row.h)];
}

function deployment(extra: Partial<LogChangeInput> = {}): LogChangeInput {
  return { changeType: 'deployment', title: 'Deploy v1.3.1', performedBy: ann, ...extra };
}

forEachBackend('incidents', (backend) => {
  let tg: Trailguard;
  const clock = manualClock('2024-05-01T10:00:00Z');

  before(async () => {
    tg = await openTrailguard(backend, { clock, geo: false });
  });
  after(async () => {
    await tg?.close();
  });

  describe('open, link, resolve', () => {
    it('opens an incident linked to the change that caused it, and resolves it with its remedy', async () => {
      clock.set('2024-05-01T10:00:00Z');
      const deploy = await tg.changes.log(
        deployment({ affectedSystems: ['authentication'], version: 'v1.3.1' }),
      );
      clock.set('2024-05-01T10:20:00Z');
      const opened = await tg.incidents.open({
        title: '  Logins failing for SSO users ',
        severity: 'high',
        openedBy: bob,
        startedAt: '2024-05-01T10:06:00Z',
        affectedSystems: ['authentication', 'authentication'],
        causes: [deploy.id],
      });
      assert.equal(opened.title, 'Logins failing for SSO users');
      assert.equal(opened.status, 'open');
      assert.equal(opened.environment, 'production');
      assert.deepEqual(opened.affectedSystems, ['authentication']);
      assert.equal(opened.startedAt.toISOString(), '2024-05-01T10:06:00.000Z');
      assert.equal(opened.detectedAt.toISOString(), '2024-05-01T10:20:00.000Z');
      assert.deepEqual(
        opened.causes.map((c) => [c.changeId, c.role, c.version, c.via]),
        [[deploy.id, 'cause', 'v1.3.1', 'link']],
      );
      assert.equal(opened.remedy, null);

      clock.set('2024-05-01T10:40:00Z');
      const hotfix = await tg.changes.log(deployment({ title: 'Hotfix v1.3.2', version: 'v1.3.2' }));
      clock.set('2024-05-01T10:50:00Z');
      const resolved = await tg.incidents.resolve(opened.id, {
        by: ann,
        note: 'hotfix deployed',
        remedy: hotfix.id,
      });
      assert.equal(resolved.status, 'resolved');
      assert.equal(resolved.resolvedAt?.toISOString(), '2024-05-01T10:50:00.000Z');
      assert.deepEqual(resolved.resolvedBy, ann);
      assert.equal(resolved.resolution, 'hotfix deployed');
      assert.equal(resolved.remedy?.changeId, hotfix.id);
      assert.equal(resolved.remedy?.via, 'link');

      const got = await tg.incidents.get(opened.id);
      assert.deepEqual(
        got.history.map((h) => [h.action, h.by.id, h.note]),
        [
          ['opened', 'u-bob', null],
          ['linked', 'u-ann', null],
          ['resolved', 'u-ann', 'hotfix deployed'],
        ],
      );
      assert.deepEqual(got.history[0]!.details['causes'], [deploy.id]);
      assert.deepEqual(got.history[1]!.details, { changeId: hotfix.id, role: 'remedy' });
      await rejectsWith(tg.incidents.resolve(opened.id, { by: bob }), 'INCIDENT_ALREADY_RESOLVED', 'status');
    });

    it('links a cause found later, refuses the same change twice and a second remedy', async () => {
      const a = await tg.changes.log(deployment({ title: 'Deploy a' }));
      const b = await tg.changes.log(deployment({ title: 'Deploy b' }));
      const c = await tg.changes.log(deployment({ title: 'Revert b' }));
      const i = await tg.incidents.open({ title: 'Errors', severity: 'medium', openedBy: ann });
      const linked = await tg.incidents.link(i.id, { changeId: a.id, by: bob, note: 'found in post-mortem' });
      assert.deepEqual(
        linked.causes.map((x) => x.changeId),
        [a.id],
      );
      await rejectsWith(
        tg.incidents.link(i.id, { changeId: a.id, by: bob }),
        'INCIDENT_ALREADY_LINKED',
        'changeId',
      );
      await rejectsWith(
        tg.incidents.link(i.id, { changeId: a.id, role: 'remedy', by: bob }),
        'INCIDENT_ALREADY_LINKED',
        'changeId',
      );
      await tg.incidents.link(i.id, { changeId: b.id, role: 'remedy', by: bob });
      await rejectsWith(
        tg.incidents.link(i.id, { changeId: c.id, role: 'remedy', by: bob }),
        'INCIDENT_ALREADY_LINKED',
        'role',
      );
      const got = await tg.incidents.get(i.id);
      assert.equal(got.remedy?.changeId, b.id);
      assert.equal(got.history.filter((h) => h.action === 'linked').length, 2);
      assert.equal(got.history.find((h) => h.action === 'linked')?.note, 'found in post-mortem');
    });

    it('recognises a later change that reverts a causing commit as the remedy', async () => {
      clock.set('2024-05-02T09:00:00Z');
      const bad = await tg.changes.log(
        deployment({ title: 'Deploy v2', gitCommit: 'ABCDEF0123456789abcdef' }),
      );
      const i = await tg.incidents.open({
        title: 'Checkout down',
        severity: 'critical',
        openedBy: ann,
        causes: [bad.id],
      });
      assert.equal(i.remedy, null);
      clock.set('2024-05-02T09:30:00Z');
      const revert = await tg.changes.log(
        deployment({
          title: 'Revert "Deploy v2"',
          description: 'This reverts commit abcdef0123456.',
          gitCommit: '1111111',
        }),
      );
      const got = await tg.incidents.get(i.id);
      assert.equal(got.remedy?.changeId, revert.id);
      assert.equal(got.remedy?.via, 'revert');
      // A revert flag in metadata is recognised too.
      const bad2 = await tg.changes.log(deployment({ title: 'Deploy v3', gitCommit: '2222222222' }));
      const i2 = await tg.incidents.open({
        title: 'Slow',
        severity: 'low',
        openedBy: ann,
        causes: [bad2.id],
      });
      const revert2 = await tg.changes.log(
        deployment({ title: 'Roll v3 back', metadata: { revertsCommit: '2222222' } }),
      );
      assert.equal((await tg.incidents.get(i2.id)).remedy?.changeId, revert2.id);
    });
  });

  describe('bad input', () => {
    it('names the field and writes nothing', async () => {
      const before = await rowCounts(tg);
      const c = await tg.changes.log(deployment());
      await rejectsWith(
        tg.incidents.open({ title: '', severity: 'high', openedBy: ann }),
        'VALIDATION_FAILED',
        'title',
      );
      await rejectsWith(
        tg.incidents.open({ title: 'x', severity: 'sev1' as 'high', openedBy: ann }),
        'VALIDATION_FAILED',
        'severity',
      );
      await rejectsWith(
        tg.incidents.open({ title: 'x', severity: 'high', openedBy: { id: '' } }),
        'VALIDATION_FAILED',
        'openedBy.id',
      );
      await rejectsWith(
        tg.incidents.open({
          title: 'x',
          severity: 'high',
          openedBy: ann,
          startedAt: '2024-05-01T10:00:00Z',
          detectedAt: '2024-05-01T09:00:00Z',
        }),
        'VALIDATION_FAILED',
        'detectedAt',
      );
      await rejectsWith(
        tg.incidents.open({ title: 'x', severity: 'high', openedBy: ann, startedAt: 'yesterday' }),
        'VALIDATION_FAILED',
        'startedAt',
      );
      // The second cause does not exist: the incident is not stored either.
      await rejectsWith(
        tg.incidents.open({
          title: 'x',
          severity: 'high',
          openedBy: ann,
          causes: [c.id, '01890000-0000-7000-8000-000000000000'],
        }),
        'INCIDENT_CHANGE_NOT_FOUND',
        'causes[1]',
      );
      await rejectsWith(
        tg.incidents.open({ title: 'x', severity: 'high', openedBy: ann, bogus: 1 } as never),
        'VALIDATION_FAILED',
        'bogus',
      );
      assert.deepEqual(await rowCounts(tg), before);
      const i = await tg.incidents.open({ title: 'ok', severity: 'low', openedBy: ann });
      const afterOpen = await rowCounts(tg);
      await rejectsWith(
        tg.incidents.link(i.id, { changeId: '01890000-0000-7000-8000-000000000000', by: ann }),
        'INCIDENT_CHANGE_NOT_FOUND',
        'changeId',
      );
      await rejectsWith(
        tg.incidents.link(i.id, { changeId: 'nope', by: ann }),
        'INCIDENT_CHANGE_NOT_FOUND',
        'changeId',
      );
      await rejectsWith(
        tg.incidents.resolve(i.id, { by: ann, remedy: '01890000-0000-7000-8000-000000000000' }),
        'INCIDENT_CHANGE_NOT_FOUND',
        'remedy',
      );
      await rejectsWith(
        tg.incidents.resolve(i.id, { by: ann, resolvedAt: '2000-01-01T00:00:00Z' }),
        'VALIDATION_FAILED',
        'resolvedAt',
      );
      await rejectsWith(tg.incidents.resolve(i.id, {} as never), 'VALIDATION_FAILED', 'by');
      await rejectsWith(tg.incidents.get('not-an-id'), 'INCIDENT_NOT_FOUND', 'id');
      await rejectsWith(tg.incidents.get('01890000-0000-7000-8000-000000000000'), 'INCIDENT_NOT_FOUND', 'id');
      await rejectsWith(tg.incidents.list({ status: 'closed' as 'open' }), 'VALIDATION_FAILED', 'status');
      assert.deepEqual(await rowCounts(tg), afterOpen);
      assert.equal((await tg.incidents.get(i.id)).status, 'open');
    });
  });

  describe('concurrency', () => {
    it('simultaneous resolutions and remedy links leave one of each, also from two instances', async () => {
      const other =
        backend === 'postgres'
          ? await createTrailguard({ databaseUrl: tg.config.databaseUrl, geo: false, logger: quiet })
          : tg;
      try {
        for (let round = 0; round < 4; round++) {
          const i = await tg.incidents.open({ title: `race ${round}`, severity: 'high', openedBy: ann });
          const resolutions = await Promise.allSettled([
            tg.incidents.resolve(i.id, { by: ann, note: 'a' }),
            other.incidents.resolve(i.id, { by: bob, note: 'b' }),
            tg.incidents.resolve(i.id, { by: bob, note: 'c' }),
          ]);
          assert.equal(resolutions.filter((r) => r.status === 'fulfilled').length, 1);
          for (const r of resolutions)
            if (r.status === 'rejected')
              assert.equal((r.reason as TrailguardError).code, 'INCIDENT_ALREADY_RESOLVED');

          const fixes = await Promise.all(
            [1, 2, 3].map((n) => tg.changes.log(deployment({ title: `fix ${n}` }))),
          );
          const cause = await tg.changes.log(deployment({ title: 'cause' }));
          const links = await Promise.allSettled([
            ...fixes.map((f, n) =>
              (n % 2 ? other : tg).incidents.link(i.id, { changeId: f.id, role: 'remedy', by: ann }),
            ),
            tg.incidents.link(i.id, { changeId: cause.id, by: ann }),
            other.incidents.link(i.id, { changeId: cause.id, by: bob }),
          ]);
          assert.equal(
            links.filter((r) => r.status === 'fulfilled').length,
            2,
            JSON.stringify(links.map((l) => l.status)),
          );
          for (const r of links)
            if (r.status === 'rejected')
              assert.equal((r.reason as TrailguardError).code, 'INCIDENT_ALREADY_LINKED');
          const got = await tg.incidents.get(i.id);
          assert.equal(got.history.filter((h) => h.action === 'resolved').length, 1);
          assert.equal(got.history.filter((h) => h.action === 'linked').length, 2);
          assert.deepEqual(
            got.causes.map((c) => c.changeId),
            [cause.id],
          );
          assert.ok(got.remedy && fixes.some((f) => f.id === got.remedy?.changeId));
        }
      } finally {
        if (other !== tg) await other.close();
      }
    });
  });

  describe('listing and history', () => {
    it('lists newest start first with filters and cursor pages', async () => {
      const c = await tg.changes.log(deployment({ environment: 'staging' }));
      clock.set('2024-06-01T00:00:00Z');
      const made: Incident[] = [];
      for (let n = 0; n < 3; n++) {
        made.push(
          await tg.incidents.open({
            title: `staging ${n}`,
            severity: 'low',
            openedBy: ann,
            environment: 'staging',
            startedAt: `2024-05-31T0${n}:00:00Z`,
            ...(n === 1 ? { causes: [c.id] } : {}),
          }),
        );
      }
      const first = await tg.incidents.list({ environment: 'staging', limit: 2 });
      assert.deepEqual(
        first.items.map((i) => i.title),
        ['staging 2', 'staging 1'],
      );
      assert.ok(first.nextCursor);
      const second = await tg.incidents.list({ environment: 'staging', limit: 2, cursor: first.nextCursor });
      assert.deepEqual(
        second.items.map((i) => i.title),
        ['staging 0'],
      );
      assert.equal(second.nextCursor, null);
      assert.deepEqual(
        (await tg.incidents.list({ changeId: c.id })).items.map((i) => i.id),
        [made[1]!.id],
      );
      const open = await tg.incidents.list({ status: 'resolved', environment: 'staging' });
      assert.equal(open.items.length, 0);
    });

    it('keeps the history append-only in the database', async () => {
      const i = await tg.incidents.open({ title: 'tamper', severity: 'low', openedBy: ann });
      await assert.rejects(
        sql`UPDATE incident_history SET note = 'x' WHERE incident_id = ${i.id}::uuid`.execute(tg.database.db),
        /append-only/,
      );
      await assert.rejects(
        sql`DELETE FROM incident_history WHERE incident_id = ${i.id}::uuid`.execute(tg.database.db),
        /append-only/,
      );
    });
  });
});

forEachBackend('incidents: privacy and retention', (backend) => {
  let tg: Trailguard;
  const clock = manualClock('2024-01-10T00:00:00Z');

  before(async () => {
    tg = await openTrailguard(backend, {
      clock,
      geo: false,
      retention: { changes: { otherDays: 30, criticalDays: 365 } },
      alerts: { delivery: { enabled: false } },
    });
  });
  after(async () => {
    await tg?.close();
  });

  it('exports the incidents a user opened or resolved, and erasure pseudonymises them, history included', async () => {
    const c = await tg.changes.log(deployment({ performedBy: bob }));
    const i = await tg.incidents.open({
      title: 'Ann opened',
      severity: 'high',
      openedBy: ann,
      causes: [c.id],
    });
    await tg.incidents.resolve(i.id, { by: bob, note: 'fixed' });
    const mine = (await tg.privacy.export('u-ann')).incidents as ExportedIncident[];
    assert.deepEqual(
      mine.map((x) => [x.title, x.roles, x.actions.map((a) => a.action)]),
      [['Ann opened', ['opened_by', 'history_actor'], ['opened']]],
    );
    const receipt = await tg.privacy.erase('u-ann', { requestedBy: 'dpo', reason: 'GDPR art. 17' });
    assert.equal(receipt.pseudonymised.incidents, 1);
    assert.equal(receipt.pseudonymised.incidentHistory, 1);
    const got = await tg.incidents.get(i.id);
    assert.match(got.openedBy.id, /^erased-user-[0-9a-f]{12}$/);
    assert.equal(got.openedBy.name, got.openedBy.id);
    assert.deepEqual(got.resolvedBy, bob);
    assert.equal(got.history[0]!.by.id, got.openedBy.id);
    assert.equal(JSON.stringify(got).includes('Ann"'), false);
    assert.deepEqual((await tg.privacy.export('u-ann')).incidents, []);
  });

  it('removes incidents past the change retention period, with their history, and keeps recent ones', async () => {
    clock.set('2024-01-10T00:00:00Z');
    const old = await tg.incidents.open({
      title: 'old',
      severity: 'medium',
      openedBy: bob,
      startedAt: '2023-11-01T00:00:00Z',
    });
    const oldCritical = await tg.incidents.open({
      title: 'old critical',
      severity: 'critical',
      openedBy: bob,
      startedAt: '2023-11-01T00:00:00Z',
    });
    const recent = await tg.incidents.open({ title: 'recent', severity: 'low', openedBy: bob });
    const receipt = await tg.retention.run();
    const item = receipt.items.find((x) => x.table === 'incident');
    assert.ok(item, JSON.stringify(receipt.items));
    assert.equal(item.rows, 1);
    assert.deepEqual(item.dependents, { incident_history: 1 });
    await rejectsWith(tg.incidents.get(old.id), 'INCIDENT_NOT_FOUND');
    assert.equal((await tg.incidents.get(oldCritical.id)).title, 'old critical');
    assert.equal((await tg.incidents.get(recent.id)).title, 'recent');
  });
});
