import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { forEachBackend, openTrailguard } from '../../test/helpers/backends.ts';
import { buildProgram } from '../cli/program.ts';
import type { Trailguard } from '../trailguard.ts';
import type { ExportOptions } from './export-service.ts';
import { ecsErrors, ocsfErrors } from '../../test/helpers/siem-schemas.ts';

type Doc = Record<string, unknown> & {
  class_uid?: number;
  activity_id?: number;
  type_uid?: number;
  event?: Record<string, unknown>;
  unmapped?: Record<string, unknown>;
  metadata?: { uid: string; log_name: string };
};

forEachBackend('SIEM export of security events and changes', (backend) => {
  let tg: Trailguard;
  const ann = { id: 'u-ann', name: 'Ann' };
  const bob = { id: 'u-bob', name: 'Bob' };

  before(async () => {
    tg = await openTrailguard(backend, {
      geo: false,
      alerts: { delivery: { enabled: false } },
      detection: { bruteForce: { threshold: 3 } },
    });
    // Three failures from one IP: login_failed events and a brute_force signal (suspicious_activity).
    for (const m of [0, 1, 2, 3]) {
      await tg.logins.record({
        username: `victim${m}@example.test`,
        success: false,
        failureReason: 'invalid_password',
        ip: '198.51.100.66',
        occurredAt: new Date(Date.UTC(2026, 2, 1, 10, m)),
      });
    }
    await tg.security.log('account_locked', {
      username: 'victim0@example.test',
      ip: '198.51.100.66',
      occurredAt: '2026-03-01T10:10:00Z',
    });
    await tg.security.permissionDenied({
      userId: 'u-ann',
      resource: 'invoice:1',
      action: 'read',
      ip: '203.0.113.1',
      occurredAt: '2026-03-01T10:11:00Z',
    });
    // A closed session (Logon and Logoff) and every account event type, for the schema checks.
    await tg.logins.record({
      username: 'carol',
      userId: 'u-carol',
      success: true,
      ip: '203.0.113.20',
      userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/128.0',
      sessionKey: 'carol-session',
      occurredAt: new Date(Date.UTC(2026, 2, 1, 10, 20)),
    });
    await tg.logins.flush();
    await tg.logins.recordLogout({
      userId: 'u-carol',
      sessionKey: 'carol-session',
      occurredAt: new Date(Date.UTC(2026, 2, 1, 10, 50)),
    });
    for (const type of ['account_unlocked', 'password_changed', 'password_reset_requested'] as const)
      await tg.security.log(type, {
        username: 'carol',
        ip: '203.0.113.20',
        occurredAt: '2026-03-01T11:00:00Z',
      });
    await tg.security.log('2fa_enabled', {
      userId: 'u-carol',
      ip: '203.0.113.20',
      occurredAt: '2026-03-01T11:01:00Z',
    });
    await tg.security.log('2fa_disabled', {
      userId: 'u-carol',
      ip: '203.0.113.20',
      occurredAt: '2026-03-01T11:02:00Z',
    });
    await tg.security.flush();
    const c = await tg.changes.log({
      changeType: 'deployment',
      title: '=cmd|calc',
      impactLevel: 'critical',
      performedBy: ann,
      approvedBy: bob,
      affectedSystems: ['billing'],
      version: 'v2.1.0',
      deployedAt: '2026-03-01T09:00:00Z',
    });
    await tg.changes.markRolledBack(c.id, { by: bob, notes: 'errors' });
    await tg.changes.log({
      changeType: 'configuration',
      title: 'Later',
      impactLevel: 'low',
      performedBy: ann,
      deployedAt: '2026-03-02T09:00:00Z',
    });
  });
  after(() => tg.close());

  async function run(options: ExportOptions): Promise<string[]> {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    await tg.export.write(options, out);
    return Buffer.concat(chunks).toString('utf8').split(/\r?\n/).filter(Boolean);
  }
  const docs = async (options: ExportOptions) => (await run(options)).map((l) => JSON.parse(l) as Doc);

  it('exports every security event once, oldest first, across pages', async () => {
    const all = await docs({ table: 'security-events', format: 'jsonl', pageSize: 2 });
    // Read in pages from login rows and event rows apart, merged: exactly the view's order.
    const stored = await tg.database.db
      .selectFrom('security_events')
      .select('id')
      .orderBy('occurred_at')
      .orderBy('id')
      .execute();
    assert.deepEqual(
      all.map((d) => d['id']),
      stored.map((r) => r.id),
    );
    assert.ok(all.some((d) => d['type'] === 'login_failed'));
    assert.equal(new Set(all.map((d) => d['id'])).size, all.length);
    const times = all.map((d) => Date.parse(String(d['occurredAt'])));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
    );
    assert.ok(all.some((d) => d['type'] === 'suspicious_activity'));
  });

  it('maps signals to OCSF Detection Finding (2004) and the other events to their classes', async () => {
    const ocsf = await docs({ table: 'security-events', format: 'ocsf' });
    const byType = new Map(ocsf.map((d) => [String(d.unmapped?.['event_type']), d]));
    const finding = byType.get('suspicious_activity');
    assert.equal(finding?.class_uid, 2004);
    assert.equal(finding?.type_uid, 200401);
    assert.equal((finding?.['finding_info'] as { types: string[] }).types[0], 'brute_force');
    assert.equal(finding?.['severity_id'], 5);
    assert.equal(finding?.['severity'], 'Critical');
    assert.equal(byType.get('login_failed')?.class_uid, 3002);
    assert.equal(byType.get('login_failed')?.['status_id'], 2);
    assert.equal(byType.get('account_locked')?.class_uid, 3001);
    assert.equal(byType.get('account_locked')?.activity_id, 9);
    const denied = byType.get('permission_denied');
    assert.equal(denied?.class_uid, 6003);
    assert.equal(denied?.activity_id, 2);
    assert.equal(denied?.['status'], 'Failure');
    assert.deepEqual(denied?.['api'], { operation: 'read' });
    assert.deepEqual(denied?.['resources'], [{ name: 'invoice:1' }]);
    assert.deepEqual(denied?.['actor'], { user: { uid: 'u-ann' } });
    assert.ok(ocsf.every((d) => d.metadata?.log_name === 'security_events'));
  });

  it('maps security events to ECS with event.kind alert for signals', async () => {
    const ecs = await docs({ table: 'security-events', format: 'ecs' });
    const signal = ecs.find((d) => d.event?.['action'] === 'suspicious-activity');
    assert.equal(signal?.event?.['kind'], 'alert');
    assert.deepEqual(signal?.event?.['category'], ['intrusion_detection', 'authentication']);
    assert.deepEqual(signal?.['rule'], { name: 'brute_force' });
    const failed = ecs.find((d) => d.event?.['action'] === 'login-failed');
    assert.equal(failed?.event?.['kind'], 'event');
    assert.deepEqual(failed?.event?.['category'], ['authentication']);
    assert.equal(failed?.event?.['outcome'], 'failure');
    assert.deepEqual(failed?.['source'], { ip: '198.51.100.66' });
    const denied = ecs.find((d) => d.event?.['action'] === 'permission-denied');
    assert.deepEqual(denied?.event?.['category'], ['iam']);
    assert.deepEqual(denied?.event?.['type'], ['info']);
    assert.equal(denied?.event?.['outcome'], 'failure');
  });

  it('exports changes as JSON lines and CSV with formulas defused, honouring the time range', async () => {
    const lines = await docs({ table: 'changes', format: 'jsonl' });
    assert.deepEqual(
      lines.map((l) => l['title']),
      ['=cmd|calc', 'Later'],
    );
    const ranged = await docs({ table: 'changes', format: 'jsonl', from: '2026-03-02T00:00:00Z' });
    assert.deepEqual(
      ranged.map((l) => l['title']),
      ['Later'],
    );
    const csv = await run({ table: 'changes', format: 'csv' });
    assert.ok(
      csv[0]?.startsWith('id,deployed_at,change_type,title,impact_level,approval_status,performed_by_id'),
    );
    assert.equal(csv.length, 3);
    assert.ok(csv[1]?.includes(",'=cmd|calc,critical,approved,u-ann,Ann,u-bob,Bob,"));
  });

  it('maps changes to OCSF Application Lifecycle Update (6002) and ECS configuration/change', async () => {
    const [first] = await docs({ table: 'changes', format: 'ocsf' });
    assert.equal(first?.class_uid, 6002);
    assert.equal(first?.type_uid, 600208);
    assert.equal(first?.['time'], Date.parse('2026-03-01T09:00:00Z'));
    assert.deepEqual(first?.unmapped?.['performed_by'], { id: 'u-ann', name: 'Ann' });
    assert.deepEqual(first?.['app'], { name: 'billing', vendor_name: 'Unknown', version: 'v2.1.0' });
    assert.equal(first?.['status'], 'Failure'); // rolled back
    assert.equal(first?.unmapped?.['approval_status'], 'approved');
    const [ecs] = await docs({ table: 'changes', format: 'ecs' });
    assert.deepEqual(ecs?.event?.['category'], ['configuration']);
    assert.deepEqual(ecs?.event?.['type'], ['change']);
    assert.equal(ecs?.event?.['outcome'], 'failure');
    assert.deepEqual(ecs?.['user'], { id: 'u-ann', name: 'Ann' });
  });

  it('writes every OCSF export as valid OCSF 1.3.0 (authentication, account change, detection finding, API activity, application lifecycle)', async () => {
    const classes = new Set<number>();
    for (const table of ['logins', 'security-events', 'changes'] as const) {
      for (const d of await docs({ table, format: 'ocsf' })) {
        assert.deepEqual(ocsfErrors(d), [], `${table} ${JSON.stringify(d)}`);
        classes.add(d.class_uid ?? 0);
      }
    }
    assert.deepEqual([...classes].sort(), [2004, 3001, 3002, 6002, 6003]);
  });

  it('writes every ECS export as ECS 8.11: known fields, right types, allowed values and category/type pairs', async () => {
    let n = 0;
    for (const table of ['logins', 'security-events', 'changes'] as const) {
      for (const d of await docs({ table, format: 'ecs' })) {
        assert.deepEqual(ecsErrors(d), [], `${table} ${JSON.stringify(d)}`);
        n++;
      }
    }
    assert.ok(n > 10);
  });

  it('describes a detection by what it found, with its evidence where class 2004 allows it', async () => {
    const finding = (await docs({ table: 'security-events', format: 'ocsf' })).find(
      (d) => d.class_uid === 2004,
    );
    assert.ok(finding);
    assert.equal(finding['src_endpoint'], undefined, '2004 defines no top-level src_endpoint');
    assert.equal(finding['actor'], undefined, '2004 defines no top-level actor');
    const info = finding['finding_info'] as { title: string };
    assert.match(info.title, /^Brute force: 198\.51\.100\.66, 3 ≥ 3 in 900 s$/);
    assert.ok(!info.title.includes('invalid_password'));
    assert.deepEqual(finding['evidences'], [
      { src_endpoint: { ip: '198.51.100.66' }, actor: { user: { name: 'victim2@example.test' } } },
    ]);
    const ecsSignal = (await docs({ table: 'security-events', format: 'ecs' })).find(
      (d) => d.event?.['kind'] === 'alert',
    );
    assert.equal(ecsSignal?.event?.['reason'], info.title);
  });

  it('gives a login the same OCSF severity in the logins and the security-events exports, and no nulls in unmapped', async () => {
    const fromEvents = (await docs({ table: 'security-events', format: 'ocsf' })).filter(
      (d) => d.class_uid === 3002,
    );
    const fromLogins = await docs({ table: 'logins', format: 'ocsf' });
    assert.ok(fromEvents.length >= 5);
    for (const e of fromEvents) {
      const login = fromLogins.find((l) => l.metadata?.uid === e.metadata?.uid);
      assert.ok(login, `login ${e.metadata?.uid}`);
      assert.deepEqual([login['severity_id'], login['severity']], [e['severity_id'], e['severity']]);
    }
    const severities = new Set(
      fromEvents.map((e) => `${String(e.unmapped?.['event_type'])}:${String(e['severity_id'])}`),
    );
    assert.ok(severities.has('login_failed:2') && severities.has('login_failed:4'), [...severities].join());
    const hasNull = (v: unknown): boolean =>
      v === null || (typeof v === 'object' && Object.values(v as object).some(hasNull));
    for (const table of ['logins', 'security-events', 'changes'] as const)
      for (const d of await docs({ table, format: 'ocsf' }))
        assert.ok(!hasNull(d.unmapped), JSON.stringify(d.unmapped));
  });

  it(
    'runs `trailguard export --table security-events` and `--table changes` from the command line',
    { skip: backend !== 'pglite' },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tg-export-cli2-'));
      try {
        for (const table of ['security-events', 'changes']) {
          const out = join(dir, `${table}.csv`);
          await buildProgram().parseAsync(
            ['--data-dir', join(dir, 'db'), 'export', '--table', table, '--format', 'csv', '--out', out],
            { from: 'user' },
          );
          assert.match(readFileSync(out, 'utf8'), /^id,/);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
