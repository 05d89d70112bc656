import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { forEachBackend, openTrailguard } from '../../test/helpers/backends.ts';
import type { BackendName } from '../../test/helpers/backends.ts';
import type { Trailguard } from '../trailguard.ts';
import { createIntegrityService } from './integrity-service.ts';
import type { IntegrityProblem, IntegrityReport } from './integrity-service.ts';
import { systemClock } from '../domain/clock.ts';
import { sealedStreams } from '../features.ts';

const KEY = 'integrity-test-key-0123456789abcdef';

/** Normal use of every sealed table: logins (one logged out later), events, changes, a receipt. */
async function writeTrail(tg: Trailguard, tag: string): Promise<{ changeId: string }> {
  await tg.logins.record({
    username: `ann-${tag}@example.test`,
    userId: `ann-${tag}`,
    success: true,
    ip: '203.0.113.1',
    sessionKey: `s-${tag}`,
    metadata: { note: 'a "quoted" value', n: 1.5 },
  });
  for (let i = 0; i < 3; i++) {
    await tg.logins.record({ username: `ben-${tag}@example.test`, success: false, ip: '198.51.100.9' });
  }
  await tg.security.accountLocked({
    username: `ben-${tag}@example.test`,
    ip: '198.51.100.9',
    reason: 'locked',
  });
  await tg.security.permissionDenied({
    userId: `ann-${tag}`,
    username: `ann-${tag}@example.test`,
    ip: '203.0.113.1',
    resource: '/admin',
    action: 'read',
  });
  const change = await tg.changes.log({
    changeType: 'deployment',
    title: `Deploy ${tag}`,
    impactLevel: 'high',
    performedBy: { id: 'ann', name: 'Ann' },
  });
  await tg.privacy.erase(`ghost-${tag}`, { requestedBy: 'dpo', reason: `request ${tag}` });
  await tg.logins.flush();
  await tg.security.flush();
  return { changeId: change.id };
}

function kinds(r: IntegrityReport): string[] {
  return r.problems.map((p) => p.kind);
}

function only(r: IntegrityReport, kind: IntegrityProblem['kind']): IntegrityProblem {
  const found = r.problems.filter((p) => p.kind === kind);
  assert.equal(found.length, 1, JSON.stringify(r.problems, null, 2));
  return found[0] as IntegrityProblem;
}

/** Seals everything recorded so far (settle 0; the ids of this millisecond are left for next time). */
async function sealNow(tg: Trailguard) {
  await sleep(3);
  return tg.integrity.seal({ settleSeconds: 0 });
}

async function rows(tg: Trailguard, query: ReturnType<typeof sql>): Promise<Record<string, unknown>[]> {
  return (await query.execute(tg.database.db)).rows as Record<string, unknown>[];
}

forEachBackend('tamper evidence', (backend: BackendName) => {
  let tg: Trailguard;
  let changeId: string;
  before(async () => {
    tg = await openTrailguard(backend, {
      geo: false,
      alerts: { delivery: { enabled: false } },
      integrity: { key: KEY, settleSeconds: 0 },
    });
    ({ changeId } = await writeTrail(tg, 'one'));
  });
  after(() => tg?.close());

  it('seals every stream and verifies intact after normal writes, a later logout and approval', async () => {
    const first = await sealNow(tg);
    assert.deepEqual(
      first.sealed.map((s) => s.stream),
      ['login_history', 'security_event_rows', 'change_log_history', 'compliance_receipt'],
    );
    const count = (s: string) => first.sealed.find((x) => x.stream === s)?.rows;
    assert.equal(count('login_history'), 4);
    assert.equal(count('security_event_rows'), 2);
    assert.ok((count('change_log_history') ?? 0) >= 1);
    assert.equal(count('compliance_receipt'), 1);
    assert.deepEqual(first.head, await tg.integrity.head());

    // What changes legitimately later: the logout, the change's approval (a new history row).
    assert.ok(await tg.logins.recordLogout({ userId: 'ann-one', sessionKey: 's-one' }));
    await tg.changes.approve(changeId, { by: { id: 'bob', name: 'Bob' } });
    await writeTrail(tg, 'two');
    const report = await tg.integrity.verify();
    assert.equal(report.ok, true, JSON.stringify(report.problems, null, 2));
    assert.equal(report.streams.login_history?.rowsChecked, 4);
    assert.ok((report.streams.login_history?.unsealedRows ?? 0) >= 4);
    const second = await sealNow(tg);
    assert.equal(second.sealed.find((s) => s.stream === 'login_history')?.rows, 4);
    assert.equal(second.sealed[0]?.fromId, first.sealed[0]?.toId, 'ranges are contiguous');
    const again = await tg.integrity.verify({ expectHead: second.head ?? undefined });
    assert.equal(again.ok, true, JSON.stringify(again.problems, null, 2));
    assert.equal(again.streams.login_history?.rowsChecked, 8);
    assert.equal(again.streams.login_history?.unsealedRows, 0);
  });

  it('detects and locates an UPDATE of a sealed column', async () => {
    const [row] = await rows(tg, sql`SELECT id::text AS id, username FROM login_history ORDER BY id LIMIT 1`);
    await sql`UPDATE login_history SET username = 'mallory@example.test' WHERE id = ${row?.['id']}::uuid`.execute(
      tg.database.db,
    );
    const report = await tg.integrity.verify();
    assert.equal(report.ok, false);
    const p = only(report, 'range_mismatch');
    assert.equal(p.stream, 'login_history');
    assert.equal(p.expectedRows, p.actualRows);
    assert.equal(p.digestMismatch, true);
    assert.ok(p.range && p.range.fromId <= String(row?.['id']) && String(row?.['id']) < p.range.toId);
    assert.match(p.message, /different content/);
    await sql`UPDATE login_history SET username = ${row?.['username']} WHERE id = ${row?.['id']}::uuid`.execute(
      tg.database.db,
    );
    assert.equal((await tg.integrity.verify()).ok, true);
  });

  it('does not cover the columns that change legitimately later (logout, the inline event)', async () => {
    await sql`UPDATE login_history SET logout_at = now(), session_duration_seconds = 5, event_severity = 'error'`.execute(
      tg.database.db,
    );
    assert.equal((await tg.integrity.verify()).ok, true);
  });

  it('detects a DELETE, and a restored row makes the range whole again', async () => {
    const db = tg.database.db;
    await sql`CREATE TABLE saved_event AS SELECT * FROM security_event_rows ORDER BY id LIMIT 1`.execute(db);
    await sql`DELETE FROM security_event_rows WHERE id = (SELECT id FROM saved_event)`.execute(db);
    const report = await tg.integrity.verify({ stream: 'security_event_rows' });
    const p = only(report, 'range_mismatch');
    assert.equal(p.stream, 'security_event_rows');
    assert.equal((p.expectedRows ?? 0) - (p.actualRows ?? 0), 1);
    assert.match(p.message, /1 row\(s\) fewer than sealed \(deleted\)/);
    await sql`INSERT INTO security_event_rows SELECT * FROM saved_event`.execute(db);
    await sql`DROP TABLE saved_event`.execute(db);
    assert.equal((await tg.integrity.verify()).ok, true);
  });

  it('detects a forged row inserted into a sealed range, and one with an id no seal would reach', async () => {
    const db = tg.database.db;
    const [sealed] = await rows(tg, sql`SELECT id::text AS id FROM compliance_receipt ORDER BY id LIMIT 1`);
    // A UUIDv7 from just after the first receipt: inside the first sealed range.
    const forged = `${String(sealed?.['id']).slice(0, 19)}bfff-ffffffffffff`;
    await sql`INSERT INTO compliance_receipt (id, kind, subject, requested_by, reason, created_at, body)
      VALUES (${forged}::uuid, 'erasure', 'x', 'dpo', 'forged', now() - interval '1 day', '{}')`.execute(db);
    let report = await tg.integrity.verify();
    const p = only(report, 'range_mismatch');
    assert.equal(p.stream, 'compliance_receipt');
    assert.equal((p.actualRows ?? 0) - (p.expectedRows ?? 0), 1);
    await sql`DELETE FROM compliance_receipt WHERE id = ${forged}::uuid`.execute(db);

    // A random (v4) id sorts above every seal and would never be sealed by recording order.
    const v4 = 'f47ac10b-58cc-4372-a567-0e02b2c3d479';
    await sql`INSERT INTO compliance_receipt (id, kind, created_at, body)
      VALUES (${v4}::uuid, 'erasure', now(), '{}')`.execute(db);
    report = await tg.integrity.verify();
    const s = only(report, 'suspicious_unsealed');
    assert.deepEqual(s.ids, [v4]);
    await sql`DELETE FROM compliance_receipt WHERE id = ${v4}::uuid`.execute(db);
    assert.equal((await tg.integrity.verify()).ok, true);
  });

  it('detects a change to the append-only change history made with its triggers off', async () => {
    const db = tg.database.db;
    await sql`ALTER TABLE change_log_history DISABLE TRIGGER USER`.execute(db);
    try {
      const [h] = await rows(
        tg,
        sql`SELECT id::text AS id, note FROM change_log_history ORDER BY id LIMIT 1`,
      );
      await sql`UPDATE change_log_history SET note = 'rewritten' WHERE id = ${h?.['id']}::uuid`.execute(db);
      const report = await tg.integrity.verify();
      assert.equal(only(report, 'range_mismatch').stream, 'change_log_history');
      await sql`UPDATE change_log_history SET note = ${h?.['note']} WHERE id = ${h?.['id']}::uuid`.execute(
        db,
      );
    } finally {
      await sql`ALTER TABLE change_log_history ENABLE TRIGGER USER`.execute(db);
    }
    assert.equal((await tg.integrity.verify()).ok, true);
  });

  it('detects an edited, a deleted and a reordered seal entry, and a removed head against the anchor', async () => {
    const db = tg.database.db;
    const head = await tg.integrity.head();
    assert.ok(head);

    await sql`UPDATE integrity_seal SET row_count = row_count + 1 WHERE seq = 1`.execute(db);
    let report = await tg.integrity.verify();
    assert.ok(kinds(report).includes('entry_hash'), JSON.stringify(report.problems));
    assert.equal(report.problems.find((p) => p.kind === 'entry_hash')?.seq, 1);
    await sql`UPDATE integrity_seal SET row_count = row_count - 1 WHERE seq = 1`.execute(db);
    assert.equal((await tg.integrity.verify()).ok, true);

    await sql`CREATE TABLE saved_seal AS SELECT * FROM integrity_seal WHERE seq = 2`.execute(db);
    await sql`DELETE FROM integrity_seal WHERE seq = 2`.execute(db);
    report = await tg.integrity.verify();
    assert.ok(kinds(report).includes('chain_gap'));
    assert.ok(kinds(report).includes('chain_link'));
    assert.ok(kinds(report).includes('range_gap'), 'the security events lost their first range');
    await sql`INSERT INTO integrity_seal SELECT * FROM saved_seal`.execute(db);
    await sql`DROP TABLE saved_seal`.execute(db);

    // Swap two entries' positions.
    await sql`UPDATE integrity_seal SET seq = CASE seq WHEN 3 THEN -3 ELSE seq END WHERE seq = 3`.execute(db);
    await sql`UPDATE integrity_seal SET seq = 3 WHERE seq = 4`.execute(db);
    await sql`UPDATE integrity_seal SET seq = 4 WHERE seq = -3`.execute(db);
    report = await tg.integrity.verify();
    assert.ok(kinds(report).includes('chain_link'));
    await sql`UPDATE integrity_seal SET seq = -4 WHERE seq = 4`.execute(db);
    await sql`UPDATE integrity_seal SET seq = 4 WHERE seq = 3`.execute(db);
    await sql`UPDATE integrity_seal SET seq = 3 WHERE seq = -4`.execute(db);
    assert.equal((await tg.integrity.verify({ expectHead: head })).ok, true);

    // Removing the newest entry leaves a valid shorter chain: only the anchor shows it.
    await sql`CREATE TABLE saved_head AS SELECT * FROM integrity_seal WHERE seq = ${head.seq}`.execute(db);
    await sql`DELETE FROM integrity_seal WHERE seq = ${head.seq}`.execute(db);
    report = await tg.integrity.verify({ expectHead: head });
    assert.equal(only(report, 'head_mismatch').seq, head.seq);
    await sql`INSERT INTO integrity_seal SELECT * FROM saved_head`.execute(db);
    await sql`DROP TABLE saved_head`.execute(db);
    assert.equal((await tg.integrity.verify({ expectHead: head })).ok, true);
  });

  it('accounts for a legitimate removal with adjust(), while unrelated tampering in the range still shows', async () => {
    const db = tg.database.db;
    const removed = await tg.integrity.sealedRows('login_history', {
      where: sql<boolean>`username = 'ben-one@example.test'`,
    });
    assert.equal(removed.length, 3);
    const result = await db.transaction().execute(async (trx) => {
      await sql`DELETE FROM login_history WHERE username = 'ben-one@example.test'`.execute(trx);
      return tg.integrity.adjust(
        'login_history',
        { removed },
        { reason: 'erasure', reference: 'receipt-1' },
        trx,
      );
    });
    assert.equal(result.entries.length, 1);
    assert.deepEqual(
      { removed: result.entries[0]?.removed, added: result.entries[0]?.added, unsealed: result.unsealed },
      { removed: 3, added: 0, unsealed: 0 },
    );
    let report = await tg.integrity.verify();
    assert.equal(report.ok, true, JSON.stringify(report.problems, null, 2));
    assert.equal(report.streams.login_history?.adjustments, 1);

    // A rewrite accounted as removed-then-added (how pseudonymisation would be recorded).
    const [ann] = await tg.integrity.sealedRows('login_history', {
      where: sql<boolean>`username = 'ann-one@example.test'`,
    });
    assert.ok(ann);
    await sql`UPDATE login_history SET username = 'pseudonym' WHERE id = ${ann.id}::uuid`.execute(db);
    const [after] = await tg.integrity.sealedRows('login_history', { ids: [ann.id] });
    assert.ok(after);
    await tg.integrity.adjust(
      'login_history',
      { removed: [ann], added: [after] },
      { reason: 'pseudonymise' },
    );
    assert.equal((await tg.integrity.verify()).ok, true);

    // The same range, an unrelated row altered without an adjustment: still detected.
    const seal = result.entries[0]?.seal;
    const [other] = await rows(
      tg,
      sql`SELECT h.id::text AS id FROM login_history h JOIN integrity_seal s ON s.seq = ${seal}
        WHERE h.id >= s.from_id AND h.id < s.to_id ORDER BY h.id LIMIT 1`,
    );
    assert.ok(other, 'another login in the adjusted range');
    await sql`UPDATE login_history SET ip_address = '192.0.2.66' WHERE id = ${other['id']}::uuid`.execute(db);
    report = await tg.integrity.verify();
    assert.equal(only(report, 'range_mismatch').seq, seal);
    await sql`UPDATE login_history SET ip_address = '203.0.113.1' WHERE id = ${other['id']}::uuid`.execute(
      db,
    );
    assert.equal((await tg.integrity.verify()).ok, true);

    // An adjustment cannot launder a forged row: removing it later leaves the range short.
    const forgedId = `${String(removed[0]?.id).slice(0, 19)}bfff-ffffffffffff`;
    await sql`INSERT INTO login_history (id, username, login_type, success, device_type, login_at)
      VALUES (${forgedId}::uuid, 'forged', 'password', true, 'desktop', now())`.execute(db);
    const forged = await tg.integrity.sealedRows('login_history', { ids: [forgedId] });
    await sql`DELETE FROM login_history WHERE id = ${forgedId}::uuid`.execute(db);
    await tg.integrity.adjust('login_history', { removed: forged }, { reason: 'retention' });
    report = await tg.integrity.verify();
    assert.equal(only(report, 'range_mismatch').stream, 'login_history');
  });

  it('accounts for a large removal with adjustRemoved(), read page by page before the DELETE', async () => {
    const db = tg.database.db;
    const result = await db.transaction().execute(async (trx) => {
      const r = await tg.integrity.adjustRemoved(
        'security_event_rows',
        { where: sql<boolean>`event_type = 'account_locked'` },
        { reason: 'retention', reference: 'run-1' },
        trx,
      );
      await sql`DELETE FROM security_event_rows WHERE event_type = 'account_locked'`.execute(trx);
      return r;
    });
    // One locked account per writeTrail() call, sealed by two different seals.
    assert.deepEqual(
      result.entries.map((e) => e.removed),
      [1, 1],
    );
    assert.equal(result.unsealed, 0);
    const report = await tg.integrity.verify({ stream: 'security_event_rows' });
    assert.equal(report.ok, true, JSON.stringify(report.problems, null, 2));
    assert.equal(report.streams.security_event_rows?.adjustments, 2);
  });

  it('validates adjust() input', async () => {
    await assert.rejects(
      tg.integrity.adjust('login_history', { removed: [{ id: 'x', values: ['x'] }] }, { reason: 'r' }),
      { code: 'VALIDATION_FAILED', field: 'removed[0]' },
    );
    await assert.rejects(tg.integrity.adjust('login_history', {}, { reason: '' }), { field: 'reason' });
    await assert.rejects(tg.integrity.adjust('nope' as never, {}, { reason: 'r' }), { field: 'stream' });
  });
});

forEachBackend('tamper evidence keys and concurrency', (backend: BackendName) => {
  let tg: Trailguard;
  before(async () => {
    tg = await openTrailguard(backend, {
      geo: false,
      alerts: { delivery: { enabled: false } },
      integrity: { key: KEY, settleSeconds: 0 },
    });
    await writeTrail(tg, 'k');
  });
  after(() => tg?.close());

  it('does not fork the chain when two sealers run at once', async () => {
    const db = tg.database.db;
    const other = createIntegrityService({
      db,
      key: KEY,
      clock: systemClock,
      settleSeconds: 0,
      streams: sealedStreams(),
    });
    await sleep(3);
    await Promise.all([tg.integrity.seal(), other.seal(), tg.integrity.seal({ settleSeconds: 0 })]);
    const entries = await rows(tg, sql`SELECT seq, prev, hash FROM integrity_seal ORDER BY seq`);
    assert.deepEqual(
      entries.map((e) => Number(e['seq'])),
      entries.map((_, i) => i + 1),
    );
    const report = await tg.integrity.verify();
    assert.equal(report.ok, true, JSON.stringify(report.problems, null, 2));
    assert.equal(report.streams.login_history?.rowsChecked, 4);
  });

  it('reports a wrong key, and refuses to seal or adjust with it', async () => {
    const db = tg.database.db;
    const wrong = createIntegrityService({
      db,
      key: 'another-key-0123456789',
      clock: systemClock,
      settleSeconds: 0,
      streams: sealedStreams(),
    });
    const report = await wrong.verify();
    assert.equal(report.ok, false);
    assert.ok(kinds(report).includes('key'));
    assert.ok(kinds(report).includes('entry_hash'));
    await assert.rejects(wrong.seal(), { code: 'INTEGRITY_KEY_MISMATCH' });
    const none = createIntegrityService({
      db,
      key: undefined,
      clock: systemClock,
      settleSeconds: 0,
      streams: sealedStreams(),
    });
    assert.equal((await none.verify()).ok, false);
    await assert.rejects(none.seal(), { code: 'INTEGRITY_KEY_REQUIRED' });
  });

  it('without a key, seals with SHA-256 and still detects changes', async () => {
    const plain = await openTrailguard(backend, { geo: false, integrity: { settleSeconds: 0 } });
    try {
      await plain.logins.record({ username: 'x@example.test', success: true, ip: '203.0.113.5' });
      await plain.logins.flush();
      // With the default settle time a row recorded a moment ago is left for a later seal.
      const early = await plain.integrity.seal({ settleSeconds: 60 });
      assert.equal(early.sealed[0]?.rows, 0);
      assert.equal((await plain.integrity.verify()).streams.login_history?.unsealedRows, 1);
      await sleep(3);
      const sealed = await plain.integrity.seal();
      assert.equal(sealed.sealed[0]?.rows, 1);
      assert.equal((await plain.integrity.verify()).ok, true);
      await sql`UPDATE login_history SET success = false`.execute(plain.database.db);
      assert.equal((await plain.integrity.verify()).ok, false);
    } finally {
      await plain.close();
    }
  });
});

describe('integrity configuration', () => {
  it('rejects a short key and unknown keys, and takes the key from TRAILGUARD_INTEGRITY_KEY', async () => {
    const { resolveConfig } = await import('../config.ts');
    assert.throws(() => resolveConfig({ integrity: { key: 'short' } }, {}), { field: 'integrity.key' });
    assert.throws(() => resolveConfig({ integrity: { sealEvery: 1 } as never }, {}), {
      field: 'integrity.sealEvery',
    });
    assert.throws(() => resolveConfig({ integrity: { sealIntervalSeconds: 0 } }, {}), {
      field: 'integrity.sealIntervalSeconds',
    });
    const c = resolveConfig({}, { TRAILGUARD_INTEGRITY_KEY: KEY });
    assert.equal(c.integrity.key, KEY);
    assert.ok(!JSON.stringify(c).includes(KEY), 'the key is left out when the config is serialised');
    assert.equal(c.integrity.sealIntervalSeconds, undefined);
    assert.equal(c.integrity.settleSeconds, 60);
  });
});
