import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { sql } from 'kysely';
import pg from 'pg';
import { createTestDatabase, forEachBackend, openTrailguard } from '../../test/helpers/backends.ts';
import { manualClock } from '../domain/clock.ts';
import { resolveConfig } from '../config.ts';
import { createPartitionManager } from '../store/partitions.ts';
import { createTrailguard } from '../trailguard.ts';
import type { Trailguard } from '../trailguard.ts';
import { startRetentionSchedule } from './retention-schedule.ts';

describe('retention policy', () => {
  it('uses the seed periods by default', () => {
    const { retention } = resolveConfig({}, {});
    assert.deepEqual(retention.logins, { successDays: 90, failedDays: 180 });
    assert.deepEqual(retention.securityEvents, { highDays: 730, otherDays: 180 });
    assert.deepEqual(retention.changes, { criticalDays: null, otherDays: 365 });
  });

  for (const [options, field] of [
    [{ logins: { successDays: 0 } }, 'retention.logins.successDays'],
    [{ logins: { failedDays: -5 } }, 'retention.logins.failedDays'],
    [{ securityEvents: { highDays: 0 } }, 'retention.securityEvents.highDays'],
    [{ changes: { otherDays: -1 } }, 'retention.changes.otherDays'],
    [{ changes: { criticalDays: 0 } }, 'retention.changes.criticalDays'],
    [{ logins: { sucessDays: 10 } }, 'retention.logins.sucessDays'],
    [{ schedule: 'every tuesday' }, 'retention.schedule'],
  ] as const) {
    it(`refuses ${JSON.stringify(options)} at start, naming ${field}`, async () => {
      await assert.rejects(
        openTrailguard('pglite', { retention: options as never }),
        (err: Error & { code?: string; field?: string }) => {
          assert.equal(err.code, 'CONFIG_INVALID');
          assert.equal(err.field, field);
          assert.match(err.message, new RegExp(field.replace(/\./g, '\\.')));
          return true;
        },
      );
    });
  }
});

forEachBackend('retention of login history', (backend) => {
  const clock = manualClock('2026-07-15T12:00:00Z');
  const archiveDir = mkdtempSync(join(tmpdir(), 'tg-retention-'));
  let tg: Trailguard;

  const seed: [string, boolean, string][] = [
    ['2025-12-10T10:00:00Z', true, 'alice'], // month entirely expired: dropped
    ['2025-12-10T11:00:00Z', false, 'alice'],
    ['2026-01-10T10:00:00Z', false, 'bob'], // failed, older than 180 days: removed
    ['2026-01-20T10:00:00Z', false, 'bob'], // failed, within 180 days: kept
    ['2026-01-20T11:00:00Z', true, 'bob'], // success, older than 90 days: removed
    ['2026-03-01T10:00:00Z', true, 'carol'], // removed
    ['2026-03-01T11:00:00Z', false, 'carol'], // kept
    ['2026-05-01T10:00:00Z', true, 'carol'], // kept
  ];

  before(async () => {
    tg = await openTrailguard(backend, { clock, geo: false, retention: { archiveDir, batchSize: 1 } });
    for (const [at, success, username] of seed) {
      await tg.logins.record({ username, userId: username, success, ip: '203.0.113.9', occurredAt: at });
    }
  });
  after(async () => {
    await tg.close();
    rmSync(archiveDir, { recursive: true, force: true });
  });

  const loginRows = (receipt: { items: { table: string; rows: number }[] }) =>
    receipt.items.filter((i) => i.table === 'login_history').reduce((n, i) => n + i.rows, 0);

  async function remaining(): Promise<string[]> {
    const r = await tg.database.db
      .selectFrom('login_history')
      .select(['login_at', 'success'])
      .orderBy('login_at')
      .execute();
    return r.map((x) => `${new Date(x.login_at).toISOString()} ${x.success ? 'ok' : 'failed'}`);
  }

  it('counts in a dry run without removing anything or writing a receipt', async () => {
    const receipt = await tg.retention.run({ dryRun: true });
    assert.equal(receipt.dryRun, true);
    assert.equal(loginRows(receipt), 5);
    assert.equal((await remaining()).length, 8);
    assert.deepEqual(readdirSync(archiveDir), []);
    assert.deepEqual(await tg.retention.receipts(), []);
  });

  it('drops the fully expired month and trims partly expired months by outcome-specific periods', async () => {
    const receipt = await tg.retention.run();
    assert.equal(loginRows(receipt), 5);
    assert.deepEqual(await remaining(), [
      '2026-01-20T10:00:00.000Z failed',
      '2026-03-01T11:00:00.000Z failed',
      '2026-05-01T10:00:00.000Z ok',
    ]);
    const byPeriod = Object.fromEntries(
      receipt.items.filter((i) => i.table === 'login_history').map((i) => [i.period, [i.method, i.rows]]),
    );
    assert.deepEqual(byPeriod, {
      '2025-12': ['drop_partition', 2],
      '2026-01': ['batch_delete', 2],
      '2026-03': ['batch_delete', 1],
    });
    assert.ok(receipt.changeId);
    const change = await tg.changes.get(receipt.changeId);
    assert.equal(change.changeType, 'data_retention');
    assert.equal((change.metadata as { receiptId?: string }).receiptId, receipt.id);
    const gone = await sql<{
      r: string | null;
    }>`SELECT to_regclass('login_history_p2025_12')::text AS r`.execute(tg.database.db);
    assert.equal(gone.rows[0]?.r, null);
  });

  it('archives exactly the removed rows as gzip JSON lines with the SHA-256 in the receipt', async () => {
    const [receipt] = await tg.retention.receipts();
    assert.ok(receipt);
    const archived: { username: string; login_at: string; success: boolean }[] = [];
    for (const item of receipt.items.filter((i) => i.table === 'login_history')) {
      assert.ok(item.archive, `archive for ${item.period}`);
      const bytes = readFileSync(item.archive.file);
      assert.equal(createHash('sha256').update(bytes).digest('hex'), item.archive.sha256);
      const lines = gunzipSync(bytes).toString('utf8').trim().split('\n');
      assert.equal(lines.length, item.rows);
      for (const l of lines) archived.push(JSON.parse(l) as (typeof archived)[number]);
    }
    assert.deepEqual(archived.map((a) => `${new Date(a.login_at).toISOString()} ${a.success}`).sort(), [
      '2025-12-10T10:00:00.000Z true',
      '2025-12-10T11:00:00.000Z false',
      '2026-01-10T10:00:00.000Z false',
      '2026-01-20T11:00:00.000Z true',
      '2026-03-01T10:00:00.000Z true',
    ]);
    assert.equal(readdirSync(archiveDir).filter((f) => f.endsWith('.partial')).length, 0);
  });

  it('keeps the hourly aggregates of removed logins', async () => {
    const stats = await tg.logins.stats({ from: '2025-12-01T00:00:00Z', to: '2026-07-01T00:00:00Z' });
    assert.equal(stats.total, 8);
  });

  it('finds nothing on a second run, and a late login for the dropped month is still accepted', async () => {
    const receipt = await tg.retention.run();
    assert.equal(receipt.totalRows, 0);
    await tg.logins.record({
      username: 'late',
      success: true,
      ip: '203.0.113.9',
      occurredAt: '2025-12-11T00:00:00Z',
    });
    assert.equal((await remaining()).length, 4);
  });

  it('refuses a second run while one is in progress', async () => {
    const first = tg.retention.run();
    await assert.rejects(tg.retention.run(), { code: 'RETENTION_IN_PROGRESS' });
    await first;
  });
});

describe('retention schedule', () => {
  it('schedules the next run from the cron pattern, and not at all when the schedule is false', async () => {
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    const tg = await openTrailguard('pglite', { retention: { schedule: '0 4 * * *' } });
    try {
      const schedule = startRetentionSchedule(tg.retention, quiet);
      const next = schedule.nextRun();
      schedule.stop();
      assert.ok(next);
      assert.equal(next.getUTCHours(), 4);
      assert.equal(next.getUTCMinutes(), 0);
    } finally {
      await tg.close();
    }
    const off = await openTrailguard('pglite', { retention: { schedule: false } });
    try {
      assert.equal(startRetentionSchedule(off.retention, quiet).nextRun(), null);
    } finally {
      await off.close();
    }
  });
});

forEachBackend('retention of security events', (backend) => {
  const clock = manualClock('2026-07-15T12:00:00Z');
  let tg: Trailguard;
  before(async () => {
    tg = await openTrailguard(backend, { clock, geo: false });
    const events: [string, 'info' | 'warning' | 'error' | 'critical'][] = [
      ['2024-06-01T00:00:00Z', 'critical'], // older than 2 years: its month is dropped
      ['2025-12-01T00:00:00Z', 'warning'], // older than 180 days: removed
      ['2025-12-01T00:00:00Z', 'error'], // within 2 years: kept
      ['2026-06-01T00:00:00Z', 'info'], // kept
    ];
    for (const [at, severity] of events) {
      await tg.security.log('permission_denied', {
        userId: 'u1',
        ip: '203.0.113.5',
        occurredAt: at,
        severity,
      });
    }
    await tg.security.flush();
  });
  after(() => tg.close());

  it('keeps error and critical events two years and the rest 180 days', async () => {
    const receipt = await tg.retention.run();
    const items = receipt.items.filter((i) => i.table === 'security_event_rows');
    assert.deepEqual(
      items.map((i) => [i.period, i.method, i.rows]),
      [
        ['2024-06', 'drop_partition', 1],
        ['2025-12', 'batch_delete', 1],
      ],
    );
    const left = await tg.database.db
      .selectFrom('security_events')
      .select(['severity'])
      .orderBy('occurred_at')
      .execute();
    assert.deepEqual(
      left.map((r) => r.severity),
      ['error', 'info'],
    );
  });
});

// A login's own event is stored in its login row, yet keeps the security event periods: when the login
// expires first, the event stays (as a row of its own), with the same id, time and context.
forEachBackend('retention of login events', (backend) => {
  const clock = manualClock('2026-07-15T12:00:00Z');
  let tg: Trailguard;
  before(async () => {
    tg = await openTrailguard(backend, { clock, geo: false });
    // Five failures from one address: the fifth trips brute force (login_failed at severity error,
    // plus a suspicious_activity event). Their month is dropped whole (failed logins: 180 days).
    for (let i = 0; i < 5; i++) {
      await tg.logins.record({
        username: `victim${i}`,
        success: false,
        ip: '203.0.113.77',
        occurredAt: `2025-12-10T10:00:0${i}Z`,
      });
    }
    // A success older than 90 days (its login goes) but younger than 180 (its info event stays), in a
    // month that is only trimmed.
    await tg.logins.record({
      username: 'kept',
      userId: 'u-kept',
      success: true,
      ip: '198.51.100.4',
      occurredAt: '2026-04-01T09:00:00Z',
    });
  });
  after(() => tg.close());

  const events = async () =>
    (await tg.security.events({ limit: 100 })).items.map((e) => ({
      id: e.id,
      type: e.type,
      severity: e.severity,
      at: e.occurredAt.toISOString(),
      username: e.username,
      context: e.context,
    }));

  it('keeps the events whose own period is longer than their login', async () => {
    const before = await events();
    assert.equal(before.length, 7);
    const receipt = await tg.retention.run();
    const loginItems = receipt.items.filter((i) => i.table === 'login_history');
    assert.deepEqual(
      loginItems.map((i) => [i.period, i.method, i.rows]),
      [
        ['2025-12', 'drop_partition', 5],
        ['2026-04', 'batch_delete', 1],
      ],
    );
    assert.equal((await tg.logins.list({ limit: 100 })).items.length, 0);
    const expected = before
      .filter((e) => e.severity === 'error' || e.severity === 'critical' || e.at.startsWith('2026-04'))
      .sort((a, b) => a.id.localeCompare(b.id));
    assert.deepEqual(expected.map((e) => `${e.type} ${e.severity}`).sort(), [
      'login_failed error',
      'login_success info',
      'suspicious_activity critical',
    ]);
    const after = (await events()).sort((a, b) => a.id.localeCompare(b.id));
    assert.deepEqual(after, expected);
    // A second run finds nothing more to keep or remove, and lists nothing twice.
    const again = await tg.retention.run();
    assert.equal(again.totalRows, 0);
    assert.equal((await events()).length, 3);
  });

  it('then removes them by their own period', async () => {
    clock.set('2026-10-15T12:00:00Z'); // the April success event is now older than 180 days
    await tg.retention.run();
    assert.deepEqual((await events()).map((e) => `${e.type} ${e.severity}`).sort(), [
      'login_failed error',
      'suspicious_activity critical',
    ]);
  });
});

// With security events kept 30 days and logins 90/180, a login's own event (stored in its login row)
// must leave security_events when its own period ends, while the login stays.
forEachBackend('retention of login events shorter than their logins', (backend) => {
  const clock = manualClock('2026-07-15T12:00:00Z');
  const archiveDir = mkdtempSync(join(tmpdir(), 'tg-retention-login-events-'));
  let tg: Trailguard;
  before(async () => {
    tg = await openTrailguard(backend, {
      clock,
      geo: false,
      retention: { securityEvents: { otherDays: 30 }, archiveDir, batchSize: 1 },
    });
    const login = (username: string, success: boolean, occurredAt: string) =>
      tg.logins.record({ username, userId: username, success, ip: '203.0.113.9', occurredAt });
    await login('recent', true, '2026-07-05T10:00:00Z'); // 10 days: login and event kept
    await login('success-45', true, '2026-05-31T10:00:00Z'); // login kept (90), event past 30
    await login('failed-60', false, '2026-05-16T10:00:00Z'); // login kept (180), event past 30
    // 100 days old, one address: the fifth trips brute force (login_failed at severity error, kept
    // 730 days, and a suspicious_activity event); the four warnings are past 30 days.
    for (let i = 0; i < 5; i++) {
      await tg.logins.record({
        username: `victim${i}`,
        success: false,
        ip: '203.0.113.77',
        occurredAt: `2026-04-06T10:00:0${i}Z`,
      });
    }
    await login('success-120', true, '2026-03-17T10:00:00Z'); // login past 90: removed with its event
  });
  after(async () => {
    await tg.close();
    rmSync(archiveDir, { recursive: true, force: true });
  });

  const events = async () =>
    (await tg.security.events({ limit: 100 })).items
      .map((e) => `${e.type} ${e.severity} ${e.username}`)
      .sort();
  const viewRows = async () => {
    const r = await sql<{ n: number }>`SELECT count(*)::int8 AS n FROM security_events`.execute(
      tg.database.db,
    );
    return Number(r.rows[0]?.n);
  };

  it('counts the events past their own period in a dry run, changing nothing', async () => {
    const receipt = await tg.retention.run({ dryRun: true });
    const cleared = receipt.items.filter((i) => i.method === 'clear_event');
    assert.deepEqual(
      cleared.map((i) => `${i.table} ${i.period} ${i.rows}`),
      ['login_events 2026-04 4', 'login_events 2026-05 2'],
    );
    assert.equal((await events()).length, 10);
  });

  it('takes them out of the login rows that stay, in batches, counted and archived in the receipt', async () => {
    const receipt = await tg.retention.run();
    // The events are gone from security_events (the view), tg.security.events() and so SIEM export …
    assert.deepEqual(await events(), [
      'login_failed error victim4',
      'login_success info recent',
      'suspicious_activity critical victim4',
    ]);
    assert.equal(await viewRows(), 3);
    const siem = new PassThrough();
    const exported: Buffer[] = [];
    siem.on('data', (c: Buffer) => exported.push(c));
    await tg.export.write({ table: 'security-events', format: 'jsonl' }, siem);
    assert.equal(Buffer.concat(exported).toString('utf8').trim().split('\n').length, 3);
    const cleared = receipt.items.filter((i) => i.method === 'clear_event');
    assert.deepEqual(
      cleared.map((i) => `${i.table} ${i.period} ${i.rows}`),
      ['login_events 2026-04 4', 'login_events 2026-05 2'],
    );
    // error and critical events keep 730 days: not due in these months.
    assert.deepEqual(cleared[0]?.criteria, [{ class: 'info_warning', before: '2026-06-15T12:00:00.000Z' }]);
    assert.equal(receipt.items.find((i) => i.table === 'login_history')?.rows, 1);
    assert.equal(receipt.totalRows, 7);
    // … while every login within its own period stays.
    const logins = (await tg.logins.list({ limit: 100 })).items.map((l) => l.username).sort();
    assert.deepEqual(logins, [
      'failed-60',
      'recent',
      'success-45',
      'victim0',
      'victim1',
      'victim2',
      'victim3',
      'victim4',
    ]);
    // The archive holds the events as the view showed them.
    const lines = cleared.flatMap((i) => {
      assert.ok(i.archive);
      const bytes = readFileSync(i.archive.file);
      assert.equal(createHash('sha256').update(bytes).digest('hex'), i.archive.sha256);
      return gunzipSync(bytes)
        .toString('utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { event_type: string; severity: string; username: string });
    });
    assert.deepEqual(lines.map((l) => `${l.event_type} ${l.severity} ${l.username}`).sort(), [
      'login_failed warning failed-60',
      'login_failed warning victim0',
      'login_failed warning victim1',
      'login_failed warning victim2',
      'login_failed warning victim3',
      'login_success info success-45',
    ]);
  });

  it('finds nothing more on the next run', async () => {
    const again = await tg.retention.run();
    assert.equal(again.totalRows, 0);
    assert.equal(await viewRows(), 3);
  });
});

forEachBackend('retention of the change log', (backend) => {
  const clock = manualClock('2026-07-15T12:00:00Z');
  const archiveDir = mkdtempSync(join(tmpdir(), 'tg-retention-changes-'));
  let tg: Trailguard;
  const ids: Record<string, string> = {};
  const ann = { id: 'u-ann', name: 'Ann' };
  const bob = { id: 'u-bob', name: 'Bob' };

  before(async () => {
    tg = await openTrailguard(backend, { clock, geo: false, retention: { archiveDir, batchSize: 1 } });
    const log = async (name: string, deployedAt: string, impactLevel: 'critical' | 'high' | 'low') => {
      const c = await tg.changes.log({
        changeType: 'deployment',
        title: name,
        impactLevel,
        performedBy: ann,
        deployedAt,
      });
      ids[name] = c.id;
      return c;
    };
    // Older than a year: removed with its history rows (created, then approved).
    const old = await log('old-high', '2025-03-01T10:00:00Z', 'high');
    await tg.changes.approve(old.id, { by: bob, note: 'CAB ok' });
    await log('old-low', '2025-05-01T10:00:00Z', 'low');
    await log('old-critical', '2024-01-01T10:00:00Z', 'critical'); // critical: kept forever
    await log('recent-high', '2026-01-01T10:00:00Z', 'high'); // within a year: kept
    // A receipt of an earlier retention run, 11 months old: within its own (1 year) period, kept.
    const receipt = await tg.changes.log({
      changeType: 'data_retention',
      title: 'Retention run removed 0 record(s)',
      impactLevel: 'low',
      performedBy: { id: 'trailguard:retention', name: 'Trailguard retention' },
      deployedAt: '2025-08-15T12:00:00Z',
    });
    ids['receipt'] = receipt.id;
  });
  after(async () => {
    await tg.close();
    rmSync(archiveDir, { recursive: true, force: true });
  });

  async function titles(): Promise<string[]> {
    const r = await tg.database.db.selectFrom('change_log').select('title').orderBy('deployed_at').execute();
    return r.map((x) => x.title);
  }
  async function historyRows(changeId: string): Promise<number> {
    const r = await tg.database.db
      .selectFrom('change_log_history')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('change_id', '=', changeId)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  it('counts expired changes and their history in a dry run, removing nothing', async () => {
    const oldHistory = (await historyRows(ids['old-high']!)) + (await historyRows(ids['old-low']!));
    const receipt = await tg.retention.run({ dryRun: true });
    const item = receipt.items.find((i) => i.table === 'change_log');
    assert.ok(item);
    assert.equal(item.rows, 2);
    assert.deepEqual(item.dependents, { change_log_history: oldHistory });
    assert.equal((await titles()).length, 5);
  });

  it('removes low/medium/high changes older than a year with their append-only history, keeps critical ones and recent receipts', async () => {
    const oldHistory = (await historyRows(ids['old-high']!)) + (await historyRows(ids['old-low']!));
    assert.ok(oldHistory >= 3);
    const receipt = await tg.retention.run();
    const item = receipt.items.find((i) => i.table === 'change_log');
    assert.ok(item);
    assert.equal(item.method, 'batch_delete');
    assert.equal(item.rows, 2);
    assert.deepEqual(item.dependents, { change_log_history: oldHistory });
    assert.deepEqual(item.criteria, [{ class: 'low_medium_high', before: '2025-07-15T12:00:00.000Z' }]);
    assert.equal(await historyRows(ids['old-high']!), 0);
    // This run's own receipt is a new change; the earlier receipt is within its period.
    assert.deepEqual(await titles(), [
      'old-critical',
      'Retention run removed 0 record(s)',
      'recent-high',
      `Retention run removed ${receipt.totalRows} record(s)`,
    ]);
    assert.ok(receipt.changeId);
    assert.equal((await tg.changes.get(receipt.changeId)).changeType, 'data_retention');
  });

  it('archives each removed change with its history rows inside its line, SHA-256 in the receipt', async () => {
    const [receipt] = await tg.retention.receipts();
    const item = receipt?.items.find((i) => i.table === 'change_log');
    assert.ok(item?.archive);
    const bytes = readFileSync(item.archive.file);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), item.archive.sha256);
    const lines = gunzipSync(bytes)
      .toString('utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; title: string; history: { action: string }[] });
    assert.deepEqual(
      lines.map((l) => l.title),
      ['old-high', 'old-low'],
    );
    // created, then one `approved` row per field the approval set (status, approver, time).
    assert.deepEqual(
      lines[0]?.history.map((h) => h.action),
      ['created', 'approved', 'approved', 'approved'],
    );
    assert.ok(item.archive.file.includes('change_log-before-2025-07-15'));
  });

  it('still refuses to delete history outside retention', async () => {
    await assert.rejects(
      sql`DELETE FROM change_log_history WHERE change_id = ${ids['recent-high']!}::uuid`.execute(
        tg.database.db,
      ),
      /append-only/,
    );
  });

  it('removes critical changes too when criticalDays is set, and a receipt once past its own period', async () => {
    const tg2 = await openTrailguard(backend, {
      clock: manualClock('2026-07-15T12:00:00Z'),
      geo: false,
      retention: { changes: { criticalDays: 365, otherDays: 300 } },
    });
    try {
      for (const [title, at, impactLevel] of [
        ['crit-old', '2025-01-01T00:00:00Z', 'critical'],
        ['crit-new', '2026-01-01T00:00:00Z', 'critical'],
      ] as const) {
        await tg2.changes.log({
          changeType: 'deployment',
          title,
          impactLevel,
          performedBy: ann,
          deployedAt: at,
        });
      }
      await tg2.changes.log({
        changeType: 'data_retention',
        title: 'old receipt',
        impactLevel: 'low',
        performedBy: { id: 'trailguard:retention', name: 'Trailguard retention' },
        deployedAt: '2025-08-15T12:00:00Z', // 334 days: past 300
      });
      const receipt = await tg2.retention.run();
      assert.equal(receipt.items.find((i) => i.table === 'change_log')?.rows, 2);
      const left = await tg2.database.db
        .selectFrom('change_log')
        .select('title')
        .orderBy('deployed_at')
        .execute();
      assert.deepEqual(
        left.map((r) => r.title),
        ['crit-new', 'Retention run removed 2 record(s)'],
      );
    } finally {
      await tg2.close();
    }
  });
});

// A run detaches a fully expired month, archives it, then drops it. A process that dies in between
// leaves the month detached: unless it is attached again, every later run fails with "is not a
// partition", its rows are in no query (GDPR export and erase included), and a late login for the month
// fails because CREATE TABLE IF NOT EXISTS … PARTITION OF skips the detached table.
forEachBackend('retention after a drop interrupted between detach and drop', (backend) => {
  const now = '2026-07-15T12:00:00Z';
  let dataDir: string | null = null;
  let pgDatabase: { url: string; drop(): Promise<void> } | null = null;
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };

  // Opens the same database again after close(): a restart.
  async function open(): Promise<Trailguard> {
    const base = {
      clock: manualClock(now),
      geo: false as const,
      logger: quiet,
      securityLog: { enabled: false },
    };
    if (backend === 'pglite') {
      dataDir ??= mkdtempSync(join(tmpdir(), 'tg-retention-detached-'));
      return createTrailguard({ ...base, dataDir });
    }
    pgDatabase ??= await createTestDatabase();
    return createTrailguard({ ...base, databaseUrl: pgDatabase.url });
  }
  afterEach(async () => {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    await pgDatabase?.drop();
    dataDir = null;
    pgDatabase = null;
  });

  // 2025-09: 300 days old, every row past every cutoff (dropped whole). 2026-02: the success is past
  // 90 days, the failure within 180 (trimmed). Security events of 2025-09: the warning is past 180
  // days, the error within 730 (trimmed).
  async function seed(tg: Trailguard): Promise<void> {
    const login = (username: string, success: boolean, occurredAt: string) =>
      tg.logins.record({ username, userId: username, success, ip: '203.0.113.9', occurredAt });
    await login('old', true, '2025-09-18T10:00:00Z');
    await login('gone', true, '2026-02-10T10:00:00Z');
    await login('kept', false, '2026-02-10T11:00:00Z');
    for (const severity of ['warning', 'error'] as const) {
      await tg.security.log('permission_denied', {
        userId: `event-${severity}`,
        ip: '203.0.113.5',
        occurredAt: '2025-09-18T10:00:00Z',
        severity,
      });
    }
    await tg.security.flush();
  }
  const detach = async (tg: Trailguard, parent: string, partition: string) =>
    sql`ALTER TABLE ${sql.table(parent)} DETACH PARTITION ${sql.table(partition)}`.execute(tg.database.db);
  const leftDetached = ['login_history_p2025_09', 'login_history_p2026_02', 'security_event_rows_p2025_09'];
  async function detachAll(tg: Trailguard): Promise<void> {
    await detach(tg, 'login_history', 'login_history_p2025_09');
    await detach(tg, 'login_history', 'login_history_p2026_02');
    await detach(tg, 'security_event_rows', 'security_event_rows_p2025_09');
  }
  const usernames = async (tg: Trailguard) =>
    (await tg.logins.list({ limit: 100 })).items.map((l) => l.username).sort();
  const eventUsers = async (tg: Trailguard) =>
    (await tg.security.events({ limit: 100, type: 'permission_denied' })).items.map((e) => e.userId).sort();

  it('a run attaches the detached months again, then drops or trims them by the policy', async () => {
    const tg = await open();
    try {
      await seed(tg);
      await detachAll(tg);
      const preview = await tg.retention.run({ dryRun: true });
      const receipt = await tg.retention.run();
      assert.deepEqual(receipt.recovered, leftDetached);
      const byItem = receipt.items
        .filter((i) => i.table !== 'change_log')
        .map((i) => `${i.table} ${i.period} ${i.method} ${i.rows}`);
      assert.deepEqual(byItem, [
        'login_history 2025-09 drop_partition 1',
        'login_history 2026-02 batch_delete 1',
        'security_event_rows 2025-09 batch_delete 1',
      ]);
      assert.deepEqual(
        preview.items.filter((i) => i.table !== 'change_log').map((i) => `${i.table} ${i.period} ${i.rows}`),
        byItem.map((s) => s.replace(/ (drop_partition|batch_delete)/, '')),
      );
      // What is within the policy is back in every query, GDPR export included.
      assert.deepEqual(await usernames(tg), ['kept']);
      assert.equal((await tg.privacy.export('kept')).logins.length, 1);
      assert.deepEqual(await eventUsers(tg), ['event-error']);
      assert.deepEqual(
        await tg.database.db
          .selectFrom('trailguard_partition')
          .select('name')
          .where('name', '=', 'login_history_p2025_09')
          .execute(),
        [],
      );
      // Nothing is left detached, and the next run has nothing to recover or remove.
      const again = await tg.retention.run();
      assert.equal(again.recovered, undefined);
      assert.equal(again.totalRows, 0);
    } finally {
      await tg.close();
    }
  });

  it('a restart attaches them again: rows are queryable before any run and a late login is accepted', async () => {
    let tg = await open();
    await seed(tg);
    await detachAll(tg);
    await tg.close();
    tg = await open();
    try {
      assert.deepEqual(await usernames(tg), ['gone', 'kept', 'old']);
      assert.deepEqual(await eventUsers(tg), ['event-error', 'event-warning']);
      await tg.logins.record({
        username: 'late',
        success: true,
        ip: '203.0.113.9',
        occurredAt: '2025-09-20T00:00:00Z',
      });
      assert.deepEqual(await usernames(tg), ['gone', 'kept', 'late', 'old']);
    } finally {
      await tg.close();
    }
  });

  it('a write to a month whose table is detached attaches it again instead of failing', async () => {
    const tg = await open();
    try {
      await seed(tg);
      await detach(tg, 'login_history', 'login_history_p2026_02');
      await tg.logins.record({
        username: 'late',
        success: false,
        ip: '203.0.113.9',
        occurredAt: '2026-02-11T00:00:00Z',
      });
      assert.deepEqual(await usernames(tg), ['gone', 'kept', 'late', 'old']);
    } finally {
      await tg.close();
    }
  });

  it('leaves alone a month that a retention run is dropping, and a write to it says why it fails', async () => {
    const tg = await open();
    try {
      await seed(tg);
      await detach(tg, 'login_history', 'login_history_p2025_09');
      const partitions = createPartitionManager(tg.database.db);
      const release = partitions.dropping('login_history_p2025_09');
      assert.deepEqual(await partitions.recover('login_history'), []);
      await assert.rejects(
        partitions.ensure('login_history', [new Date('2025-09-20T00:00:00Z')]),
        /login_history_p2025_09 is detached from login_history by a retention run in progress in this process/,
      );
      release();
      if (backend === 'postgres') {
        // A run in another process holds the retention lock.
        const other = new pg.Client({ connectionString: pgDatabase!.url });
        await other.connect();
        try {
          await other.query(`SELECT pg_advisory_lock(hashtext('trailguard.retention'))`);
          assert.deepEqual(await partitions.recover('login_history'), []);
          await assert.rejects(
            partitions.ensure('login_history', [new Date('2025-09-20T00:00:00Z')]),
            /by a retention run in progress in another process/,
          );
        } finally {
          await other.end();
        }
      }
      const back = await partitions.recover('login_history');
      assert.deepEqual(
        back.map((p) => p.name),
        ['login_history_p2025_09'],
      );
      assert.deepEqual(await usernames(tg), ['gone', 'kept', 'old']);
    } finally {
      await tg.close();
    }
  });
});
