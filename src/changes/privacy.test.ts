import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { forEachBackend, openTrailguard } from '../../test/helpers/backends.ts';
import type { Trailguard } from '../trailguard.ts';
import type { ExportedChange } from './privacy.ts';

forEachBackend('privacy of change records', (backend) => {
  let tg: Trailguard;
  const ann = { id: 'u-ann', name: 'Ann Example' };
  const bob = { id: 'u-bob', name: 'Bob Example' };
  const ids: Record<string, string> = {};

  before(async () => {
    tg = await openTrailguard(backend, { geo: false, alerts: { delivery: { enabled: false } } });
    await tg.logins.record({
      username: 'ann@example.test',
      userId: 'u-ann',
      success: true,
      ip: '203.0.113.1',
    });
    const performed = await tg.changes.log({
      changeType: 'deployment',
      title: 'Deploy v2',
      impactLevel: 'high',
      performedBy: ann,
      approvedBy: bob,
    });
    ids['performed'] = performed.id;
    const approved = await tg.changes.log({
      changeType: 'configuration',
      title: 'Raise pool size',
      impactLevel: 'low',
      performedBy: bob,
    });
    await tg.changes.approve(approved.id, { by: ann, note: 'looks fine' });
    await tg.changes.markRolledBack(approved.id, { by: ann, notes: 'pool exhausted' });
    ids['approved'] = approved.id;
    const other = await tg.changes.log({
      changeType: 'deployment',
      title: 'Unrelated',
      impactLevel: 'low',
      performedBy: bob,
    });
    ids['other'] = other.id;
  });
  after(() => tg.close());

  it('exports the changes the user performed, approved or rolled back, with the user’s own history rows', async () => {
    const doc = await tg.privacy.export('u-ann');
    const changes = doc.changes as ExportedChange[];
    assert.deepEqual(
      changes.map((c) => [c.title, c.roles]),
      [
        ['Deploy v2', ['performer', 'history_actor']],
        ['Raise pool size', ['approver', 'rolled_back_by', 'history_actor']],
      ],
    );
    assert.ok(changes.every((c) => c.actions.every((a) => a.by.id === 'u-ann')));
    assert.deepEqual((await tg.privacy.export('nobody')).changes, []);
  });

  it('keeps the records but replaces the user’s id and name everywhere, history included, and counts the rows', async () => {
    // Every history row naming her is one she authored (the created row of her change, her approval
    // and rollback rows); the history of the change Bob logged keeps Bob.
    const before = await tg.database.db
      .selectFrom('change_log_history')
      .select(['id', 'action'])
      .where('actor_id', '=', 'u-ann')
      .orderBy('seq')
      .execute();
    const receipt = await tg.privacy.erase('u-ann', { requestedBy: 'dpo', reason: 'GDPR-7' });
    assert.ok(receipt.pseudonym);
    assert.match(receipt.pseudonym, /^erased-user-[0-9a-f]{12}$/);
    assert.equal(receipt.pseudonymised.changes, 2);
    assert.equal(receipt.pseudonymised.changeHistory, before.length);
    const p = receipt.pseudonym;

    const performed = await tg.changes.get(ids['performed']!);
    assert.deepEqual(performed.performedBy, { id: p, name: p });
    assert.deepEqual(performed.approvedBy, bob);
    const approved = await tg.changes.get(ids['approved']!);
    assert.deepEqual(approved.approvedBy, { id: p, name: p });
    assert.deepEqual(approved.rolledBackBy, { id: p, name: p });
    assert.deepEqual(approved.performedBy, bob);
    assert.equal(approved.rolledBack, true);
    assert.equal(approved.rollbackNotes, 'pool exhausted');

    // Nothing in the change log still names her.
    const all = [performed, approved, await tg.changes.get(ids['other']!)];
    const text = JSON.stringify(all);
    assert.equal(text.includes('u-ann'), false);
    assert.equal(text.includes('Ann Example'), false);
    // Her history rows are still there, same actions, same times.
    assert.equal(performed.history[0]?.action, 'created');
    assert.deepEqual(performed.history[0]?.by, { id: p, name: p });
    assert.deepEqual((performed.history[0]?.newValue as { approvedBy: unknown }).approvedBy, bob);
    const after = await tg.database.db
      .selectFrom('change_log_history')
      .select(['id', 'action'])
      .where('actor_id', '=', p)
      .orderBy('seq')
      .execute();
    assert.deepEqual(after, before);
    assert.equal(approved.history[0]?.by.id, bob.id);
  });

  it('is idempotent and gives the same user the same pseudonym', async () => {
    const again = await tg.privacy.erase('u-ann', { requestedBy: 'dpo', reason: 'GDPR-7 again' });
    assert.equal(again.nothingLeft, true);
    assert.deepEqual(again.pseudonymised, { changes: 0, changeHistory: 0, incidents: 0, incidentHistory: 0 });
    // A change she performs later is pseudonymised to the same name.
    const [first] = await tg.privacy.receipts({ userId: 'u-ann', limit: 2 }).then((r) => r.slice(1));
    await tg.changes.log({ changeType: 'other', title: 'Later', impactLevel: 'low', performedBy: ann });
    const third = await tg.privacy.erase('u-ann', { requestedBy: 'dpo', reason: 'GDPR-7 later' });
    assert.equal(third.pseudonymised.changes, 1);
    assert.equal(third.pseudonym, first?.pseudonym);
  });

  it('keeps the history append-only: the pseudonymise setting allows no other edit', async () => {
    const db = tg.database.db;
    const id = ids['other']!;
    await assert.rejects(
      sql`UPDATE change_log_history SET note = 'edited' WHERE change_id = ${id}::uuid`.execute(db),
      /append-only/,
    );
    const attempt = (statement: ReturnType<typeof sql>) =>
      db.transaction().execute(async (trx) => {
        await sql`SET LOCAL trailguard.history_pseudonymise = 'on'`.execute(trx);
        await statement.execute(trx);
      });
    await assert.rejects(
      attempt(sql`UPDATE change_log_history SET note = 'edited' WHERE change_id = ${id}::uuid`),
      /append-only/,
    );
    await assert.rejects(
      attempt(sql`UPDATE change_log_history SET at = at - interval '1 day' WHERE change_id = ${id}::uuid`),
      /append-only/,
    );
    // The created row's snapshot: only the person keys may change.
    await assert.rejects(
      attempt(
        sql`UPDATE change_log_history SET new_value = jsonb_set(new_value, '{title}', '"forged"')
          WHERE change_id = ${id}::uuid AND field IS NULL`,
      ),
      /append-only/,
    );
    await assert.rejects(
      attempt(sql`DELETE FROM change_log_history WHERE change_id = ${id}::uuid`),
      /append-only/,
    );
    // Nor may it put another person in: only a pseudonym replaces one: swapping an approver would rewrite who approved.
    await assert.rejects(
      attempt(
        sql`UPDATE change_log_history SET actor_id = 'a2', actor_name = 'Someone Else'
          WHERE change_id = ${id}::uuid AND field IS NULL`,
      ),
      /append-only/,
    );
    await assert.rejects(
      attempt(
        sql`UPDATE change_log_history SET new_value = jsonb_set(new_value, '{performedBy}',
            '{"id": "a2", "name": "Someone Else"}')
          WHERE change_id = ${id}::uuid AND field IS NULL`,
      ),
      /append-only/,
    );
    await assert.rejects(
      attempt(
        sql`UPDATE change_log_history SET actor_id = 'erased-user-0123456789ab', actor_name = 'Someone Else'
          WHERE change_id = ${id}::uuid AND field IS NULL`,
      ),
      /append-only/,
    );
    // What erasure does is allowed.
    await attempt(
      sql`UPDATE change_log_history SET actor_id = 'erased-user-0123456789ab', actor_name = 'erased-user-0123456789ab',
          new_value = jsonb_set(new_value, '{performedBy}', '{"id": "erased-user-0123456789ab", "name": "erased-user-0123456789ab"}')
        WHERE change_id = ${id}::uuid AND field IS NULL`,
    );
  });

  it('gives each identifier of the user its own pseudonym, so performer and approver stay distinct', async () => {
    // A CI pipeline logged the change with the committer's e-mail as performer id; the same person, by
    // user id, approved it (separation of duties compares ids). Erasure must not make them equal.
    await tg.logins.record({
      username: 'ivy@example.test',
      userId: 'u-ivy',
      success: true,
      ip: '203.0.113.5',
    });
    const change = await tg.changes.log({
      changeType: 'deployment',
      title: 'Deploy by CI',
      impactLevel: 'medium',
      performedBy: { id: 'ivy@example.test', name: 'Ivy (CI)' },
    });
    await tg.changes.approve(change.id, { by: { id: 'u-ivy', name: 'Ivy' } });
    const receipt = await tg.privacy.erase('u-ivy', { requestedBy: 'dpo', reason: 'GDPR-9' });
    assert.equal(receipt.pseudonyms.length, 2);
    const [p1, p2] = receipt.pseudonyms;
    const stored = await tg.changes.get(change.id);
    assert.deepEqual([stored.performedBy.id, stored.approvedBy?.id].sort(), [p1, p2].sort());
    assert.equal(receipt.pseudonym, stored.approvedBy?.id);
    assert.equal(JSON.stringify(stored).includes('ivy@example.test'), false);
    assert.equal(JSON.stringify(stored).includes('Ivy'), false);
  });
});
