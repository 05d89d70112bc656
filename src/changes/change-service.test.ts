import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { createTrailguard, manualClock } from '../index.ts';
import type { Change, LogChangeInput, Trailguard, TrailguardError } from '../index.ts';
import { forEachBackend, openTrailguard } from '../../test/helpers/backends.ts';

const ann = { id: 'u-ann', name: 'Ann' };
const bob = { id: 'u-bob', name: 'Bob' };
const carl = { id: 'u-carl', name: 'Carl' };
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

function deployment(extra: Partial<LogChangeInput> = {}): LogChangeInput {
  return { changeType: 'deployment', title: 'Deploy v1.2.3', performedBy: ann, ...extra };
}

/** Asserts `promise` rejects with a TrailguardError of `code` naming `field`. */
async function rejectsWith(
  promise: Promise<unknown>,
  code: string,
  field?: string,
): Promise<TrailguardError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught, `expected ${code}, but it resolved`);
  const e = caught as TrailguardError;
  assert.equal(e.name, 'TrailguardError', String(caught));
  assert.equal(e.code, code, e.message);
  if (field !== undefined) assert.equal(e.field, field, e.message);
  return e;
}

async function counts(tg: Trailguard): Promise<{ changes: number; history: number }> {
  const c = await tg.database.db
    .selectFrom('change_log')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  const h = await tg.database.db
    .selectFrom('change_log_history')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return { changes: Number(c.n), history: Number(h.n) };
}

forEachBackend('change log', (backend) => {
  let tg: Trailguard;
  const clock = manualClock('2024-03-01T00:00:00Z');

  before(async () => {
    tg = await openTrailguard(backend, { clock, geo: false });
  });
  after(async () => {
    await tg?.close();
  });

  describe('logging', () => {
    it('stores every field, with defaults, and a created history row holding the record', async () => {
      clock.set('2024-03-01T09:00:00Z');
      const c = await tg.changes.log({
        changeType: 'deployment',
        title: '  Deploy v1.2.3 with security patches ',
        description: 'Security updates for authentication',
        version: 'v1.2.3',
        impactLevel: 'high',
        affectedSystems: ['api', 'auth', 'api'],
        changeRequestId: 'CHG-2024-001',
        performedBy: { id: 42, name: 'Ann' },
        canRollback: true,
        rollbackInstructions: 'redeploy v1.2.2',
        testingNotes: 'unit + e2e',
        documentationUrl: 'https://wiki.example.com/deploy',
        ticket: 'SEC-123',
        gitCommit: 'ABCDEF1234567',
        gitBranch: 'main',
        gitCommittedAt: '2024-03-01T08:00:00Z',
        metadata: { pipeline: 7 },
      });
      assert.equal(c.title, 'Deploy v1.2.3 with security patches');
      assert.deepEqual(c.affectedSystems, ['api', 'auth']);
      assert.deepEqual(c.performedBy, { id: '42', name: 'Ann' });
      assert.equal(c.gitCommit, 'abcdef1234567');
      assert.equal(c.environment, 'production');
      assert.equal(c.approvalStatus, 'pending');
      assert.equal(c.validationStatus, 'pending');
      assert.equal(c.rolledBack, false);
      assert.deepEqual(c.deployedAt, new Date('2024-03-01T09:00:00Z'));
      assert.deepEqual(c.gitCommittedAt, new Date('2024-03-01T08:00:00Z'));

      const got = await tg.changes.get(c.id);
      const { history, ...stored } = got;
      assert.deepEqual(stored, c);
      assert.equal(history.length, 1);
      const created = history[0]!;
      assert.equal(created.action, 'created');
      assert.deepEqual(created.by, { id: '42', name: 'Ann' });
      assert.equal(created.field, null);
      assert.equal(created.oldValue, null);
      assert.deepEqual((created.newValue as Record<string, unknown>)['title'], c.title);
      assert.deepEqual(
        (created.newValue as Record<string, unknown>)['deployedAt'],
        '2024-03-01T09:00:00.000Z',
      );
    });

    it('stores lone UTF-16 surrogates as U+FFFD, like login history', async () => {
      const c = await tg.changes.log(
        deployment({
          title: 'a\ud800b',
          description: 'd\udc00',
          performedBy: { id: 'p\ud800', name: 'N\ud800' },
          metadata: { k: 'v\ud800' },
        }),
      );
      assert.equal(c.title, 'a\ufffdb');
      assert.equal(c.description, 'd\ufffd');
      assert.deepEqual(c.performedBy, { id: 'p\ufffd', name: 'N\ufffd' });
      const stored = await tg.changes.get(c.id);
      assert.equal(stored.title, 'a\ufffdb');
      assert.equal(stored.history.length, 1);
    });

    it('stores secret-looking metadata keys redacted, in the record and its history', async () => {
      const c = await tg.changes.log(
        deployment({
          metadata: { ciRunUrl: 'https://ci.example/1', env: { DEPLOY_TOKEN: 'ghp_abc', region: 'eu' } },
        }),
      );
      const stored = await tg.changes.get(c.id);
      assert.deepEqual(stored.metadata, {
        ciRunUrl: 'https://ci.example/1',
        env: { DEPLOY_TOKEN: '[REDACTED]', region: 'eu' },
      });
      assert.equal(JSON.stringify(stored).includes('ghp_abc'), false);
    });

    it('refuses a commit time later than the deployment, which would make lead time negative', async () => {
      const before = await counts(tg);
      await rejectsWith(
        tg.changes.log(
          deployment({ gitCommittedAt: '2024-03-01T09:00:01Z', deployedAt: '2024-03-01T09:00:00Z' }),
        ),
        'VALIDATION_FAILED',
        'gitCommittedAt',
      );
      assert.deepEqual(await counts(tg), before);
      const same = await tg.changes.log(
        deployment({ gitCommittedAt: '2024-03-01T09:00:00Z', deployedAt: '2024-03-01T09:00:00Z' }),
      );
      assert.equal(same.gitCommittedAt?.toISOString(), '2024-03-01T09:00:00.000Z');
    });

    it('logs a pre-approved change when approvedBy is someone else', async () => {
      const c = await tg.changes.log(deployment({ approvedBy: bob }));
      assert.equal(c.approvalStatus, 'approved');
      assert.deepEqual(c.approvedBy, bob);
      assert.ok(c.approvedAt);
    });

    it('refuses to log a change approved by its own performer', async () => {
      const before = await counts(tg);
      await rejectsWith(
        tg.changes.log(
          deployment({ approvalStatus: 'approved', approvedBy: { id: ann.id, name: 'Also Ann' } }),
        ),
        'CHANGE_SELF_APPROVAL',
        'approvedBy',
      );
      assert.deepEqual(await counts(tg), before);
    });
  });

  describe('bad input writes nothing', () => {
    const cases: [string, Record<string, unknown>, string, string, RegExp?][] = [
      [
        'an unknown type',
        { changeType: 'deploy' },
        'VALIDATION_FAILED',
        'changeType',
        /deployment, configuration.*other/,
      ],
      [
        'an unknown impact',
        { impactLevel: 'huge' },
        'VALIDATION_FAILED',
        'impactLevel',
        /critical, high, medium, low/,
      ],
      [
        'an unknown approval status',
        { approvalStatus: 'maybe' },
        'VALIDATION_FAILED',
        'approvalStatus',
        /pending, approved, emergency/,
      ],
      [
        'an unknown validation status',
        { validationStatus: 'ok' },
        'VALIDATION_FAILED',
        'validationStatus',
        /pending, passed, failed, skipped/,
      ],
      ['an empty title', { title: '' }, 'VALIDATION_FAILED', 'title'],
      ['a blank title', { title: '   ' }, 'VALIDATION_FAILED', 'title'],
      [
        'a javascript: documentation URL',
        { documentationUrl: 'javascript:alert(1)' },
        'VALIDATION_FAILED',
        'documentationUrl',
      ],
      [
        'a documentation URL that is not a URL',
        { documentationUrl: 'wiki page' },
        'VALIDATION_FAILED',
        'documentationUrl',
      ],
      ['a non-hex commit', { gitCommit: 'not-a-sha' }, 'VALIDATION_FAILED', 'gitCommit'],
      ['a missing performer', { performedBy: undefined }, 'VALIDATION_FAILED', 'performedBy'],
      ['a performer without id', { performedBy: { name: 'x' } }, 'VALIDATION_FAILED', 'performedBy.id'],
      ['an unknown field', { color: 'red' }, 'VALIDATION_FAILED', 'color'],
      ['a bad date', { deployedAt: 'yesterday' }, 'VALIDATION_FAILED', 'deployedAt'],
      ['approval without approver', { approvalStatus: 'approved' }, 'VALIDATION_FAILED', 'approvedBy'],
    ];
    for (const [what, patch, code, field, message] of cases) {
      it(`rejects ${what}`, async () => {
        const before = await counts(tg);
        const input = { ...deployment(), ...patch } as unknown as LogChangeInput;
        const e = await rejectsWith(tg.changes.log(input), code, field);
        if (message) assert.match(e.message, message);
        assert.deepEqual(await counts(tg), before);
      });
    }

    it('rejects an unknown id with CHANGE_NOT_FOUND on every method', async () => {
      const missing = '01900000-0000-7000-8000-000000000000';
      await rejectsWith(tg.changes.get(missing), 'CHANGE_NOT_FOUND', 'id');
      await rejectsWith(tg.changes.get('nope'), 'CHANGE_NOT_FOUND', 'id');
      await rejectsWith(tg.changes.approve(missing, { by: bob }), 'CHANGE_NOT_FOUND', 'id');
      await rejectsWith(tg.changes.reject(missing, { by: bob, reason: 'x' }), 'CHANGE_NOT_FOUND', 'id');
      await rejectsWith(tg.changes.markRolledBack(missing, { by: bob }), 'CHANGE_NOT_FOUND', 'id');
      await rejectsWith(
        tg.changes.setValidation(missing, { by: bob, status: 'passed' }),
        'CHANGE_NOT_FOUND',
        'id',
      );
      await rejectsWith(tg.changes.update(missing, { title: 'x' }, { by: bob }), 'CHANGE_NOT_FOUND', 'id');
      const e = await rejectsWith(tg.changes.get(missing), 'CHANGE_NOT_FOUND');
      assert.equal(e.status, 404);
    });
  });

  describe('approval', () => {
    it('approves a pending change and records status, approver and time in history', async () => {
      clock.set('2024-03-02T10:00:00Z');
      const c = await tg.changes.log(deployment());
      clock.set('2024-03-02T11:00:00Z');
      const approved = await tg.changes.approve(c.id, { by: bob, note: 'CAB ok' });
      assert.equal(approved.approvalStatus, 'approved');
      assert.deepEqual(approved.approvedBy, bob);
      assert.deepEqual(approved.approvedAt, new Date('2024-03-02T11:00:00Z'));
      const { history } = await tg.changes.get(c.id);
      const rows = history.filter((h) => h.action === 'approved');
      assert.deepEqual(
        rows.map((h) => [h.field, h.oldValue, h.newValue, h.by.id, h.note, h.at.toISOString()]),
        [
          ['approvalStatus', 'pending', 'approved', bob.id, 'CAB ok', '2024-03-02T11:00:00.000Z'],
          ['approvedBy', null, bob, bob.id, 'CAB ok', '2024-03-02T11:00:00.000Z'],
          ['approvedAt', null, '2024-03-02T11:00:00.000Z', bob.id, 'CAB ok', '2024-03-02T11:00:00.000Z'],
        ],
      );
    });

    it('rejects approval by the person who performed the change', async () => {
      const c = await tg.changes.log(deployment());
      const e = await rejectsWith(
        tg.changes.approve(c.id, { by: { id: ann.id, name: 'Ann again' } }),
        'CHANGE_SELF_APPROVAL',
        'by',
      );
      assert.equal(e.status, 409);
      const got = await tg.changes.get(c.id);
      assert.equal(got.approvalStatus, 'pending');
      assert.equal(got.history.length, 1);
    });

    it('does not allow a rejected change to be approved later', async () => {
      const c = await tg.changes.log(deployment());
      const rejected = await tg.changes.reject(c.id, { by: bob, reason: 'no rollback plan' });
      assert.equal(rejected.approvalStatus, 'rejected');
      assert.equal(rejected.approvedBy, null);
      const e = await rejectsWith(
        tg.changes.approve(c.id, { by: carl }),
        'CHANGE_INVALID_TRANSITION',
        'approvalStatus',
      );
      assert.equal(e.status, 409);
      await rejectsWith(tg.changes.reject(c.id, { by: carl, reason: 'again' }), 'CHANGE_INVALID_TRANSITION');
      const { history } = await tg.changes.get(c.id);
      assert.equal(history.length, 2);
      assert.equal(history[0]!.action, 'created');
      assert.deepEqual(
        history.slice(1).map((h) => [h.action, h.field, h.oldValue, h.newValue, h.by.id, h.note]),
        [['rejected', 'approvalStatus', 'pending', 'rejected', bob.id, 'no rollback plan']],
      );
    });

    it('requires a reason to reject', async () => {
      const c = await tg.changes.log(deployment());
      await rejectsWith(tg.changes.reject(c.id, { by: bob, reason: ' ' }), 'VALIDATION_FAILED', 'reason');
    });

    it('does not approve an approved change twice', async () => {
      const c = await tg.changes.log(deployment({ approvedBy: bob }));
      await rejectsWith(tg.changes.approve(c.id, { by: carl }), 'CHANGE_INVALID_TRANSITION');
    });

    it('keeps an emergency change flagged until it is approved after the fact', async () => {
      const c = await tg.changes.log(deployment({ approvalStatus: 'emergency', impactLevel: 'critical' }));
      assert.equal(c.approvalStatus, 'emergency');
      await tg.changes.setValidation(c.id, { by: ann, status: 'passed' });
      await tg.changes.update(c.id, { description: 'hotfix for outage' }, { by: ann });
      assert.equal((await tg.changes.get(c.id)).approvalStatus, 'emergency');
      const flagged = await tg.changes.list({ approvalStatus: 'emergency' });
      assert.ok(flagged.items.some((x) => x.id === c.id));
      await rejectsWith(tg.changes.approve(c.id, { by: ann }), 'CHANGE_SELF_APPROVAL');
      const approved = await tg.changes.approve(c.id, { by: bob, note: 'reviewed after the fact' });
      assert.equal(approved.approvalStatus, 'approved');
      const row = (await tg.changes.get(c.id)).history.find((h) => h.field === 'approvalStatus');
      assert.deepEqual([row?.oldValue, row?.newValue], ['emergency', 'approved']);
    });

    it('does not let a change be logged as rejected', async () => {
      await rejectsWith(
        tg.changes.log(deployment({ approvalStatus: 'rejected' as never })),
        'VALIDATION_FAILED',
        'approvalStatus',
      );
    });
  });

  describe('rollback', () => {
    it('records who, when and notes once, and refuses a second rollback', async () => {
      clock.set('2024-03-03T10:00:00Z');
      const c = await tg.changes.log(deployment());
      clock.set('2024-03-03T12:30:00Z');
      const r = await tg.changes.markRolledBack(c.id, { by: carl, notes: 'performance degradation' });
      assert.equal(r.rolledBack, true);
      assert.deepEqual(r.rolledBackAt, new Date('2024-03-03T12:30:00Z'));
      assert.deepEqual(r.rolledBackBy, carl);
      assert.equal(r.rollbackNotes, 'performance degradation');
      assert.equal(r.rollbackForced, false);
      const e = await rejectsWith(tg.changes.markRolledBack(c.id, { by: bob }), 'CHANGE_ALREADY_ROLLED_BACK');
      assert.equal(e.status, 409);
      const { history } = await tg.changes.get(c.id);
      assert.deepEqual(
        history
          .filter((h) => h.action === 'rolled_back')
          .map((h) => [h.field, h.oldValue, h.newValue, h.by.id, h.note]),
        [
          ['rolledBack', false, true, carl.id, 'performance degradation'],
          ['rolledBackAt', null, '2024-03-03T12:30:00.000Z', carl.id, 'performance degradation'],
          ['rolledBackBy', null, carl, carl.id, 'performance degradation'],
          ['rollbackNotes', null, 'performance degradation', carl.id, 'performance degradation'],
        ],
      );
    });

    it('refuses to roll back a change marked not rollbackable unless forced, and records the force', async () => {
      const c = await tg.changes.log(deployment({ changeType: 'data_migration', canRollback: false }));
      const e = await rejectsWith(
        tg.changes.markRolledBack(c.id, { by: bob }),
        'CHANGE_NOT_ROLLBACKABLE',
        'canRollback',
      );
      assert.equal(e.status, 409);
      assert.equal((await tg.changes.get(c.id)).history.length, 1);
      const forced = await tg.changes.markRolledBack(c.id, {
        by: bob,
        force: true,
        notes: 'restored from backup',
      });
      assert.equal(forced.rolledBack, true);
      assert.equal(forced.rollbackForced, true);
      const { history } = await tg.changes.get(c.id);
      const row = history.find((h) => h.field === 'rollbackForced');
      assert.deepEqual([row?.action, row?.oldValue, row?.newValue], ['rolled_back', false, true]);
    });
  });

  describe('validation and edits', () => {
    it('sets the validation status with notes in history', async () => {
      const c = await tg.changes.log(deployment());
      const v = await tg.changes.setValidation(c.id, {
        status: 'passed',
        by: ann,
        notes: 'smoke tests green',
      });
      assert.equal(v.validationStatus, 'passed');
      const row = (await tg.changes.get(c.id)).history.at(-1);
      assert.deepEqual(
        [row?.action, row?.field, row?.oldValue, row?.newValue, row?.note],
        ['validated', 'validationStatus', 'pending', 'passed', 'smoke tests green'],
      );
      await rejectsWith(
        tg.changes.setValidation(c.id, { status: 'ok' as never, by: ann }),
        'VALIDATION_FAILED',
        'status',
      );
    });

    it('edits descriptive fields with one history row per changed field', async () => {
      const c = await tg.changes.log(deployment({ description: 'old', ticket: 'OPS-1' }));
      clock.advance(60_000);
      const u = await tg.changes.update(
        c.id,
        {
          description: 'new',
          ticket: 'OPS-1',
          documentationUrl: 'http://docs.example.com/x',
          affectedSystems: ['db'],
        },
        { by: bob },
      );
      assert.equal(u.description, 'new');
      assert.deepEqual(u.affectedSystems, ['db']);
      assert.ok(u.updatedAt > c.updatedAt);
      const rows = (await tg.changes.get(c.id)).history.filter((h) => h.action === 'updated');
      assert.deepEqual(
        rows.map((h) => [h.field, h.oldValue, h.newValue, h.by.id]),
        [
          ['description', 'old', 'new', bob.id],
          ['affectedSystems', [], ['db'], bob.id],
          ['documentationUrl', null, 'http://docs.example.com/x', bob.id],
        ],
      );
    });

    it('refuses a patch touching a non-editable field and writes nothing', async () => {
      const c = await tg.changes.log(deployment());
      const before = await counts(tg);
      for (const field of [
        'approvalStatus',
        'performedBy',
        'deployedAt',
        'rolledBack',
        'canRollback',
        'gitCommit',
        'impactLevel',
      ]) {
        const e = await rejectsWith(
          tg.changes.update(c.id, { description: 'x', [field]: 'y' } as never, { by: bob }),
          'CHANGE_FIELD_NOT_EDITABLE',
          field,
        );
        assert.equal(e.status, 400);
      }
      await rejectsWith(
        tg.changes.update(c.id, { colour: 'red' } as never, { by: bob }),
        'VALIDATION_FAILED',
        'colour',
      );
      await rejectsWith(tg.changes.update(c.id, { title: '' }, { by: bob }), 'VALIDATION_FAILED', 'title');
      await rejectsWith(
        tg.changes.update(c.id, { documentationUrl: 'ftp://x' }, { by: bob }),
        'VALIDATION_FAILED',
        'documentationUrl',
      );
      assert.deepEqual(await counts(tg), before);
      assert.equal((await tg.changes.get(c.id)).description, null);
    });
  });

  describe('history is append-only', () => {
    it('refuses UPDATE and DELETE of history rows in the database itself', async () => {
      const c = await tg.changes.log(deployment());
      await assert.rejects(
        tg.database.db
          .updateTable('change_log_history')
          .set({ note: 'tampered' })
          .where('change_id', '=', c.id)
          .execute(),
        /append-only/,
      );
      await assert.rejects(
        tg.database.db.deleteFrom('change_log_history').where('change_id', '=', c.id).execute(),
        /append-only/,
      );
      await assert.rejects(sql`TRUNCATE change_log_history`.execute(tg.database.db), /append-only/);
      assert.equal((await tg.changes.get(c.id)).history.length, 1);
    });

    it('lets a retention job purge an expired change only with the documented session setting', async () => {
      const c = await tg.changes.log(deployment());
      await assert.rejects(
        tg.database.db.deleteFrom('change_log').where('id', '=', c.id).execute(),
        /append-only/,
      );
      await tg.database.db.transaction().execute(async (trx) => {
        await sql`SET LOCAL trailguard.history_purge = 'on'`.execute(trx);
        await trx.deleteFrom('change_log').where('id', '=', c.id).execute();
      });
      await rejectsWith(tg.changes.get(c.id), 'CHANGE_NOT_FOUND');
      const left = await tg.database.db
        .selectFrom('change_log_history')
        .select('id')
        .where('change_id', '=', c.id)
        .execute();
      assert.equal(left.length, 0);
    });
  });

  describe('concurrent transitions', () => {
    it('two simultaneous approvals leave one approval and a consistent history', async () => {
      // A second instance on the same database: on PostgreSQL, separate pools race for real.
      const other =
        backend === 'postgres'
          ? await createTrailguard({ databaseUrl: tg.config.databaseUrl, geo: false, logger: quiet })
          : tg;
      try {
        for (let round = 0; round < 5; round++) {
          const c = await tg.changes.log(deployment());
          const results = await Promise.allSettled([
            tg.changes.approve(c.id, { by: bob }),
            other.changes.approve(c.id, { by: carl }),
            tg.changes.approve(c.id, { by: { id: 'u-dan', name: 'Dan' } }),
            other.changes.reject(c.id, { by: { id: 'u-eve', name: 'Eve' }, reason: 'no' }),
          ]);
          const ok = results.filter((r): r is PromiseFulfilledResult<Change> => r.status === 'fulfilled');
          assert.equal(ok.length, 1, JSON.stringify(results.map((r) => r.status)));
          for (const r of results) {
            if (r.status === 'rejected')
              assert.equal((r.reason as TrailguardError).code, 'CHANGE_INVALID_TRANSITION');
          }
          const winner = ok[0]!.value;
          const got = await tg.changes.get(c.id);
          assert.equal(got.approvalStatus, winner.approvalStatus);
          assert.deepEqual(got.approvedBy, winner.approvedBy);
          const statusRows = got.history.filter((h) => h.field === 'approvalStatus');
          assert.equal(statusRows.length, 1);
          assert.equal(statusRows[0]!.oldValue, 'pending');
          assert.equal(statusRows[0]!.newValue, winner.approvalStatus);
        }
      } finally {
        if (other !== tg) await other.close();
      }
    });

    it('simultaneous rollbacks record one rollback', async () => {
      const c = await tg.changes.log(deployment());
      const results = await Promise.allSettled([
        tg.changes.markRolledBack(c.id, { by: bob }),
        tg.changes.markRolledBack(c.id, { by: carl }),
        tg.changes.markRolledBack(c.id, { by: ann }),
      ]);
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results) {
        if (r.status === 'rejected')
          assert.equal((r.reason as TrailguardError).code, 'CHANGE_ALREADY_ROLLED_BACK');
      }
      const rows = (await tg.changes.get(c.id)).history.filter((h) => h.field === 'rolledBack');
      assert.equal(rows.length, 1);
    });
  });
});

forEachBackend('change log queries and reports', (backend) => {
  let tg: Trailguard;
  const clock = manualClock('2024-03-01T00:00:00Z');
  const ids: Record<string, string> = {};

  async function logAt(key: string, at: string, input: LogChangeInput): Promise<Change> {
    clock.set(at);
    const c = await tg.changes.log({ ...input, deployedAt: at });
    ids[key] = c.id;
    return c;
  }

  before(async () => {
    tg = await openTrailguard(backend, { clock, geo: false });
    // The hand-computed fixture (window 2024-03-01 .. 2024-03-11, 10 days):
    //  key env        type           impact   by    deployed          committed (lead)   outcome
    //  d1  production deployment     high     ann   03-02 10:00       03-02 08:00 (2 h)  approved by bob
    //  d2  production deployment     critical ann   03-04 12:00       03-03 12:00 (24 h) pending; rolled back 03-04 15:00 (3 h)
    //  c1  production configuration  critical bob   03-05 00:00       -                  emergency; rolled back 03-05 01:00
    //  d3  production deployment     medium   carl  03-06 00:00       03-05 20:00 (4 h)  validation failed
    //  s1  production schema_change  high     ann   03-07 00:00       -                  approved by carl
    //  d4  production deployment     low      carl  03-08 00:00       -                  rolled back 03-09 00:00 (24 h)
    //  d5  staging    deployment     medium   ann   03-03 00:00       -
    //  d0  production deployment     low      ann   02-20 00:00       (outside the window)
    await logAt('d0', '2024-02-20T00:00:00Z', deployment({ impactLevel: 'low', title: 'Old deploy' }));
    await logAt('d1', '2024-03-02T10:00:00Z', {
      ...deployment({ impactLevel: 'high', approvedBy: bob, title: 'Deploy api v2.0.0', version: 'v2.0.0' }),
      gitCommit: 'deadbeefcafe',
      gitCommittedAt: '2024-03-02T08:00:00Z',
    });
    await logAt(
      'd5',
      '2024-03-03T00:00:00Z',
      deployment({ environment: 'staging', title: 'Staging deploy' }),
    );
    await logAt('d2', '2024-03-04T12:00:00Z', {
      ...deployment({ impactLevel: 'critical', title: 'Deploy auth rewrite', ticket: 'SEC-42' }),
      gitCommittedAt: '2024-03-03T12:00:00Z',
    });
    clock.set('2024-03-04T15:00:00Z');
    await tg.changes.markRolledBack(ids['d2']!, { by: bob, notes: 'errors' });
    await logAt('c1', '2024-03-05T00:00:00Z', {
      changeType: 'configuration',
      title: 'Raise rate limit',
      description: 'Increased API rate limit from 100 to 200 requests/min',
      performedBy: bob,
      impactLevel: 'critical',
      approvalStatus: 'emergency',
    });
    clock.set('2024-03-05T01:00:00Z');
    await tg.changes.markRolledBack(ids['c1']!, { by: bob });
    await logAt('d3', '2024-03-06T00:00:00Z', {
      ...deployment({ performedBy: carl, title: 'Deploy web v3' }),
      gitCommittedAt: '2024-03-05T20:00:00Z',
    });
    await tg.changes.setValidation(ids['d3']!, { status: 'failed', by: carl });
    await logAt('s1', '2024-03-07T00:00:00Z', {
      changeType: 'schema_change',
      title: 'Add index on orders',
      performedBy: ann,
      impactLevel: 'high',
      approvedBy: carl,
    });
    await logAt(
      'd4',
      '2024-03-08T00:00:00Z',
      deployment({ performedBy: carl, impactLevel: 'low', title: '100% rollout' }),
    );
    clock.set('2024-03-09T00:00:00Z');
    await tg.changes.markRolledBack(ids['d4']!, { by: carl });
    clock.set('2024-03-12T00:00:00Z');
  });
  after(async () => {
    await tg?.close();
  });

  it('reports counts, rates, attention lists and DORA figures computed by hand', async () => {
    const r = await tg.changes.report({ from: '2024-03-01T00:00:00Z', to: '2024-03-11T00:00:00Z' });
    assert.equal(r.total, 7);
    assert.equal(r.byType.deployment, 5);
    assert.equal(r.byType.configuration, 1);
    assert.equal(r.byType.schema_change, 1);
    assert.equal(r.byType.rollback, 0);
    assert.deepEqual(r.byImpact, { critical: 2, high: 2, medium: 2, low: 1 });
    assert.deepEqual(r.byPerformer, [
      { performer: ann, count: 4 },
      { performer: carl, count: 2 },
      { performer: bob, count: 1 },
    ]);
    assert.deepEqual(
      r.highImpact.map((c) => c.id),
      [ids['s1'], ids['c1'], ids['d2'], ids['d1']],
    );
    assert.equal(r.rollbackRate, (3 / 7) * 100);
    assert.deepEqual(
      r.unapprovedCritical.map((c) => c.id),
      [ids['c1'], ids['d2']],
    );
    assert.equal(r.dora.environment, 'production');
    assert.equal(r.dora.deployments, 4);
    assert.equal(r.dora.deploymentFrequency, 0.4);
    assert.equal(r.dora.leadTimeForChangesHours, 4); // median of 2, 24, 4
    // d2 and d4 were rolled back; d3 failed its validation but stayed, caused no incident and was not
    // reverted: not a failure in production by DORA's definition.
    assert.equal(r.dora.changeFailureRate, 50);
    assert.equal(r.dora.timeToRestoreHours, 13.5); // median of 3, 24
  });

  it('reports one environment when asked, and nulls where there is nothing to measure', async () => {
    const r = await tg.changes.report({
      from: '2024-03-01T00:00:00Z',
      to: '2024-03-11T00:00:00Z',
      environment: 'staging',
    });
    assert.equal(r.total, 1);
    assert.equal(r.dora.deployments, 1);
    assert.equal(r.dora.leadTimeForChangesHours, null);
    assert.equal(r.dora.timeToRestoreHours, null);
    assert.equal(r.dora.changeFailureRate, 0);
    const empty = await tg.changes.report({ from: '2023-01-01T00:00:00Z', to: '2023-01-02T00:00:00Z' });
    assert.equal(empty.total, 0);
    assert.equal(empty.rollbackRate, null);
    assert.equal(empty.dora.changeFailureRate, null);
    assert.equal(empty.dora.deploymentFrequency, 0);
    await rejectsWith(tg.changes.report({ from: 'soon' }), 'VALIDATION_FAILED', 'from');
  });

  it('lists with filters, newest first', async () => {
    const all = await tg.changes.list({ from: '2024-03-01T00:00:00Z' });
    assert.deepEqual(
      all.items.map((c) => c.id),
      [ids['d4'], ids['s1'], ids['d3'], ids['c1'], ids['d2'], ids['d5'], ids['d1']],
    );
    assert.deepEqual(
      (await tg.changes.list({ rolledBack: true })).items.map((c) => c.id),
      [ids['d4'], ids['c1'], ids['d2']],
    );
    assert.deepEqual(
      (await tg.changes.list({ environment: 'staging' })).items.map((c) => c.id),
      [ids['d5']],
    );
    assert.deepEqual(
      (await tg.changes.list({ changeType: 'deployment', impactLevel: 'critical' })).items.map((c) => c.id),
      [ids['d2']],
    );
    assert.deepEqual(
      (await tg.changes.list({ approvalStatus: 'emergency' })).items.map((c) => c.id),
      [ids['c1']],
    );
    assert.deepEqual(
      (await tg.changes.list({ from: '2024-03-04T00:00:00Z', to: '2024-03-06T00:00:00Z' })).items.map(
        (c) => c.id,
      ),
      [ids['c1'], ids['d2']],
    );
    await rejectsWith(tg.changes.list({ changeType: 'nope' as never }), 'VALIDATION_FAILED', 'changeType');
    await rejectsWith(tg.changes.list({ impactLevel: 'nope' as never }), 'VALIDATION_FAILED', 'impactLevel');
    await rejectsWith(
      tg.changes.list({ approvalStatus: 'nope' as never }),
      'VALIDATION_FAILED',
      'approvalStatus',
    );
  });

  it('searches title, description, version, ticket and commit, case-insensitively', async () => {
    const search = async (s: string) => (await tg.changes.list({ search: s })).items.map((c) => c.id);
    assert.deepEqual(await search('AUTH REWRITE'), [ids['d2']]);
    assert.deepEqual(await search('200 requests'), [ids['c1']]);
    assert.deepEqual(await search('v2.0'), [ids['d1']]);
    assert.deepEqual(await search('sec-42'), [ids['d2']]);
    assert.deepEqual(await search('beefca'), [ids['d1']]);
    assert.deepEqual(await search('100%'), [ids['d4']]); // % is literal, not a wildcard
  });

  it('pages with a cursor until every change is seen once', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await tg.changes.list({ limit: 3, cursor });
      seen.push(...page.items.map((c) => c.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    assert.equal(pages, 3);
    assert.equal(seen.length, 8);
    assert.equal(new Set(seen).size, 8);
    await rejectsWith(tg.changes.list({ cursor: 'garbage' }), 'VALIDATION_FAILED', 'cursor');
  });

  it('returns recent and critical changes', async () => {
    // now is 2024-03-12: the last 5 days start at 03-07.
    assert.deepEqual(
      (await tg.changes.recent({ days: 5 })).map((c) => c.id),
      [ids['d4'], ids['s1']],
    );
    assert.deepEqual(
      (await tg.changes.critical()).map((c) => c.id),
      [ids['c1'], ids['d2']],
    );
    assert.deepEqual(
      (await tg.changes.critical({ days: 7 })).map((c) => c.id),
      [ids['c1']],
    );
    await rejectsWith(tg.changes.recent({ days: 0 }), 'VALIDATION_FAILED', 'days');
    await rejectsWith(tg.changes.recent({ days: 1e9 }), 'VALIDATION_FAILED', 'days');
  });

  it('rejects a misspelt filter or option instead of returning unfiltered rows', async () => {
    await rejectsWith(tg.changes.list({ typ: 'deployment' } as never), 'VALIDATION_FAILED', 'typ');
    await rejectsWith(tg.changes.recent({ days: 1, limt: 2 } as never), 'VALIDATION_FAILED', 'limt');
    await rejectsWith(tg.changes.critical({ dys: 2 } as never), 'VALIDATION_FAILED', 'dys');
    await rejectsWith(
      tg.changes.report({ from: '2024-01-01T00:00:00Z', enviroment: 'staging' } as never),
      'VALIDATION_FAILED',
      'enviroment',
    );
  });
});
