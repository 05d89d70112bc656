/**
 * Secrets a caller hands Trailguard — under secret-looking keys or inside text — never reach the
 * database, the security log line, an alert, a SIEM export or a GDPR export, whichever path stores
 * the text; benign keys and text next to them arrive intact.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { forEachBackend, openTrailguard } from './helpers/backends.ts';
import type { Trailguard } from '../src/trailguard.ts';
import type { ExportOptions } from '../src/export/export-service.ts';

/** Each secret carries a marker that must never be found again; each shape the rule knows. */
const SECRET_TEXT = [
  'reset link https://app.example.com/reset?token=URLTOKEN111&lang=en',
  'DATABASE_URL=postgres://app:PGPASS222@db.internal:5432/prod',
  'cache redis://:REDISPASS333@cache:6379/0',
  'DEPLOY_TOKEN=ENVTOKEN444',
  'Authorization: Bearer HEADERTOKEN555',
  'libpq host=db password=DSNPASS666 dbname=prod',
  'jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI3NzcifQ.JWTSIG777',
].join(' | ');
const SECRET_KEYS = {
  pw: 'PWKEY888',
  auth: 'AUTHKEY999',
  mfa: 'MFAKEY1010',
  'connect.sid': 'SIDKEY1111',
  nested: { apiKey: 'APIKEY1212', note: 'amqp://guest:AMQPPASS1313@rabbit//' },
};
const MARKERS = [
  'URLTOKEN111',
  'PGPASS222',
  'REDISPASS333',
  'ENVTOKEN444',
  'HEADERTOKEN555',
  'DSNPASS666',
  'JWTSIG777',
  'eyJzdWIiOiI3NzcifQ',
  'PWKEY888',
  'AUTHKEY999',
  'MFAKEY1010',
  'SIDKEY1111',
  'APIKEY1212',
  'AMQPPASS1313',
];
/** Benign keys and text that must survive next to the secrets. */
const BENIGN = {
  author: 'Ada Lovelace',
  authMethod: 'sso',
  mfaEnabled: true,
  dashboard: 'https://grafana.example.com/d/x?orgId=7',
};
const BENIGN_MARKERS = [
  'Ada Lovelace',
  '"authMethod":"sso"',
  'orgId=7',
  'app.example.com/reset?token=',
  'db.internal:5432',
];
const METADATA = { ...SECRET_KEYS, ...BENIGN, text: SECRET_TEXT };

function assertClean(where: string, text: string): void {
  for (const m of MARKERS) assert.ok(!text.includes(m), `${where} leaks ${m}`);
  assert.ok(text.includes('[REDACTED]'), `${where} shows where a secret was`);
}

function assertBenignKept(where: string, text: string): void {
  for (const b of BENIGN_MARKERS) assert.ok(text.includes(b), `${where} lost ${b}`);
}

forEachBackend('redaction of secrets on every path that stores caller text', (backend) => {
  let tg: Trailguard;
  const logLines: string[] = [];
  const ann = { id: 'u-ann', name: 'Ann' };
  const bob = { id: 'u-bob', name: 'Bob' };
  const changeIds: string[] = [];

  before(async () => {
    tg = await openTrailguard(backend, {
      geo: false,
      alerts: { delivery: { enabled: false } },
      securityLog: {
        destination: new Writable({
          write(chunk, _enc, cb) {
            logLines.push(String(chunk));
            cb();
          },
        }),
      },
    });
    await tg.logins.record({
      username: 'ann@example.test',
      userId: 'u-ann',
      success: false,
      failureReason: SECRET_TEXT,
      ip: '198.51.100.7',
      metadata: METADATA,
      occurredAt: '2026-03-01T10:00:00Z',
    });
    await tg.logins.record({
      username: 'ann@example.test',
      userId: 'u-ann',
      success: true,
      ip: '198.51.100.7',
      metadata: METADATA,
      occurredAt: '2026-03-01T10:01:00Z',
    });
    await tg.security.log('account_locked', {
      username: 'ann@example.test',
      userId: 'u-ann',
      ip: '198.51.100.7',
      reason: SECRET_TEXT,
      context: METADATA,
      occurredAt: '2026-03-01T10:02:00Z',
    });
    await tg.security.permissionDenied({
      userId: 'u-ann',
      resource: '/admin/export?token=URLTOKEN111&format=csv',
      action: 'read',
      ip: '198.51.100.7',
      occurredAt: '2026-03-01T10:03:00Z',
    });
    await tg.security.flush();

    const logged = await tg.changes.log({
      changeType: 'deployment',
      title: 'Deploy with DEPLOY_TOKEN=ENVTOKEN444',
      description: SECRET_TEXT,
      rollbackInstructions: SECRET_TEXT,
      testingNotes: SECRET_TEXT,
      ticket: 'OPS-1 token=ENVTOKEN444',
      documentationUrl: 'https://docs.example.com/runbook?token=URLTOKEN111&page=2',
      performedBy: ann,
      metadata: METADATA,
      deployedAt: '2026-03-01T09:00:00Z',
    });
    changeIds.push(logged.id);
    await tg.changes.approve(logged.id, { by: bob, note: SECRET_TEXT });
    await tg.changes.setValidation(logged.id, { status: 'passed', by: bob, notes: SECRET_TEXT });
    await tg.changes.update(logged.id, { description: `edited: ${SECRET_TEXT}` }, { by: ann });
    await tg.changes.markRolledBack(logged.id, { by: bob, notes: SECRET_TEXT });
    const rejected = await tg.changes.log({
      changeType: 'configuration',
      title: 'Rotate keys',
      performedBy: ann,
      deployedAt: '2026-03-01T09:30:00Z',
    });
    changeIds.push(rejected.id);
    await tg.changes.reject(rejected.id, { by: bob, reason: SECRET_TEXT });

    await tg.alerts.raise({
      rule: 'app_secret_test',
      key: 'k1',
      severity: 'warning',
      title: 'Leak DEPLOY_TOKEN=ENVTOKEN444',
      message: SECRET_TEXT,
      details: METADATA,
    });
  });
  after(() => tg.close());

  it('stores login metadata and failure reasons redacted', async () => {
    const page = await tg.logins.list({ userId: 'u-ann' });
    assert.equal(page.items.length, 2);
    const text = JSON.stringify(page.items);
    assertClean('login history', text);
    assertBenignKept('login history', text);
    const failed = page.items.find((r) => !r.success);
    assert.equal(failed?.metadata['pw'], '[REDACTED]');
    assert.equal(failed?.metadata['mfaEnabled'], true);
  });

  it('stores security event context and reasons redacted, including the events of logins', async () => {
    const page = await tg.security.events({ limit: 100 });
    const types = page.items.map((e) => e.type);
    for (const t of ['login_failed', 'account_locked', 'permission_denied'])
      assert.ok(types.includes(t as never), `${t} stored`);
    const text = JSON.stringify(page.items);
    assertClean('security events', text);
    const locked = page.items.find((e) => e.type === 'account_locked');
    assertBenignKept('account_locked context', JSON.stringify(locked));
  });

  it('writes the JSON security log line redacted', () => {
    assert.ok(logLines.length >= 3, 'lines were written');
    const text = logLines.join('');
    assertClean('security log', text);
    assert.ok(text.includes('Ada Lovelace'), 'benign context is logged');
  });

  it('stores change fields, metadata, notes and their history redacted', async () => {
    for (const id of changeIds) {
      const change = await tg.changes.get(id);
      assertClean(`change ${change.title}`, JSON.stringify(change));
      assert.ok(change.history.length >= 2);
      for (const h of change.history)
        assert.ok(!MARKERS.some((m) => JSON.stringify(h).includes(m)), `history row ${h.action}`);
    }
    const change = await tg.changes.get(changeIds[0] as string);
    assert.equal(change.title, 'Deploy with DEPLOY_TOKEN=[REDACTED]');
    assert.equal(change.documentationUrl, 'https://docs.example.com/runbook?token=[REDACTED]&page=2');
    assertBenignKept('change metadata', JSON.stringify(change.metadata));
    const notes = change.history.map((h) => h.note).filter((n) => n !== null);
    assert.equal(notes.length >= 3, true, 'approve, validate and rollback notes are history');
  });

  it('stores alerts raised by the application redacted', async () => {
    const [alert] = await tg.alerts.list({ rule: 'app_secret_test' });
    assert.ok(alert);
    const text = JSON.stringify(alert);
    assertClean('alert', text);
    assertBenignKept('alert details', text);
  });

  async function exported(options: ExportOptions): Promise<string> {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    await tg.export.write(options, out);
    return Buffer.concat(chunks).toString('utf8');
  }

  it('exports every table in every format without the secrets', async () => {
    for (const table of ['logins', 'security-events', 'changes'] as const) {
      for (const format of ['jsonl', 'csv', 'ocsf', 'ecs'] as const) {
        const text = await exported({
          table,
          format,
          from: '2026-01-01T00:00:00Z',
          to: '2026-12-31T00:00:00Z',
        });
        assert.ok(text.length > 0, `${table} ${format} has rows`);
        for (const m of MARKERS) assert.ok(!text.includes(m), `${table} ${format} leaks ${m}`);
      }
    }
  });

  it('leaves the secrets out of the GDPR export', async () => {
    const doc = await tg.privacy.export('u-ann');
    assert.ok(doc.logins.length === 2 && doc.securityEvents.length > 0 && doc.changes.length > 0);
    const text = JSON.stringify(doc);
    assertClean('GDPR export', text);
    assertBenignKept('GDPR export', text);
  });
});
