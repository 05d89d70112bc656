import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachBackend, openTrailguard } from '../helpers/backends.ts';
import type { Trailguard } from '../../src/index.ts';
import { startServer } from './helpers.ts';
import type { TestServer } from './helpers.ts';

interface ChangeBody {
  id: string;
  title: string;
  approvalStatus: string;
  validationStatus: string;
  rolledBack: boolean;
  impactLevel: string;
  history?: { action: string; field: string | null; note: string | null }[];
}
type ErrorBody = { error: { code: string; field?: string } };

forEachBackend('change log over HTTP', (backend) => {
  let tg: Trailguard;
  let s: TestServer;

  before(async () => {
    tg = await openTrailguard(backend);
    s = await startServer(tg, { rateLimit: false });
  });
  after(async () => {
    await s?.close();
    await tg?.close();
  });

  async function logChange(json: Record<string, unknown>): Promise<ChangeBody> {
    const res = await s.call('POST', '/api/v1/changes', {
      key: s.keys.ingest,
      json: { changeType: 'deployment', performedBy: { id: 'dev-1', name: 'Dev One' }, ...json },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as ChangeBody;
  }

  it('logs a change, approves it, validates it, rolls it back, and shows the history', async () => {
    const change = await logChange({
      title: 'Deploy v1.2.3 with security patches',
      impactLevel: 'high',
      affectedSystems: ['api', 'auth'],
      version: 'v1.2.3',
      gitCommit: 'abc1234',
    });
    assert.equal(change.approvalStatus, 'pending');
    const approved = await s.call('POST', `/api/v1/changes/${change.id}/approve`, {
      key: s.keys.ingest,
      json: { by: { id: 'lead-1', name: 'Lead' }, note: 'CAB ok' },
    });
    assert.equal(approved.status, 200);
    assert.equal((approved.body as ChangeBody).approvalStatus, 'approved');
    const validated = await s.call('POST', `/api/v1/changes/${change.id}/validation`, {
      key: s.keys.ingest,
      json: { by: { id: 'ci' }, status: 'failed', notes: 'smoke tests red' },
    });
    assert.equal((validated.body as ChangeBody).validationStatus, 'failed');
    const rolled = await s.call('POST', `/api/v1/changes/${change.id}/rollback`, {
      key: s.keys.ingest,
      json: { by: { id: 'oncall' }, notes: 'latency regression' },
    });
    assert.equal((rolled.body as ChangeBody).rolledBack, true);
    const shown = await s.call('GET', `/api/v1/changes/${change.id}`, { key: s.keys.read });
    assert.equal(shown.status, 200);
    const history = (shown.body as ChangeBody).history ?? [];
    assert.deepEqual(
      [...new Set(history.map((h) => h.action))],
      ['created', 'approved', 'validated', 'rolled_back'],
    );
    assert.ok(history.some((h) => h.action === 'approved' && h.note === 'CAB ok'));
  });

  it('answers 409 for a self-approval and a double rollback, 404 for an unknown change', async () => {
    const change = await logChange({ title: 'Config tweak', changeType: 'configuration' });
    const self = await s.call('POST', `/api/v1/changes/${change.id}/approve`, {
      key: s.keys.ingest,
      json: { by: { id: 'dev-1' } },
    });
    assert.equal(self.status, 409);
    assert.equal((self.body as ErrorBody).error.code, 'CHANGE_SELF_APPROVAL');
    const rollback = { key: s.keys.ingest, json: { by: { id: 'oncall' } } };
    assert.equal((await s.call('POST', `/api/v1/changes/${change.id}/rollback`, rollback)).status, 200);
    const twice = await s.call('POST', `/api/v1/changes/${change.id}/rollback`, rollback);
    assert.equal(twice.status, 409);
    assert.equal((twice.body as ErrorBody).error.code, 'CHANGE_ALREADY_ROLLED_BACK');
    const rejected = await logChange({ title: 'Risky' });
    await s.call('POST', `/api/v1/changes/${rejected.id}/reject`, {
      key: s.keys.ingest,
      json: { by: { id: 'lead-1' }, reason: 'no plan' },
    });
    const late = await s.call('POST', `/api/v1/changes/${rejected.id}/approve`, {
      key: s.keys.ingest,
      json: { by: { id: 'lead-1' } },
    });
    assert.equal((late.body as ErrorBody).error.code, 'CHANGE_INVALID_TRANSITION');
    const missing = await s.call('GET', '/api/v1/changes/01a20000-0000-7000-8000-00000000abcd', {
      key: s.keys.read,
    });
    assert.equal(missing.status, 404);
    assert.equal((missing.body as ErrorBody).error.code, 'CHANGE_NOT_FOUND');
  });

  it('rejects bad input with 400 naming the field and stores nothing', async () => {
    const before = (await tg.changes.list({ limit: 1000 })).items.length;
    const cases: { json: unknown; field: string }[] = [
      { json: { changeType: 'deploy', title: 't', performedBy: { id: 'a' } }, field: 'changeType' },
      { json: { changeType: 'deployment', title: '', performedBy: { id: 'a' } }, field: 'title' },
      { json: { changeType: 'deployment', title: 't' }, field: 'performedBy' },
      {
        json: { changeType: 'deployment', title: 't', performedBy: { id: 'a' }, gitCommit: 'xyz' },
        field: 'gitCommit',
      },
      { json: { changeType: 'deployment', title: 't', performedBy: { id: 'a' }, risk: 1 }, field: 'risk' },
      {
        json: {
          changeType: 'deployment',
          title: 't',
          performedBy: { id: 'a' },
          documentationUrl: 'javascript:x',
        },
        field: 'documentationUrl',
      },
      {
        json: {
          changeType: 'deployment',
          title: 't',
          performedBy: { id: 'a' },
          gitCommittedAt: '2024-03-01T09:00:01Z',
          deployedAt: '2024-03-01T09:00:00Z',
        },
        field: 'gitCommittedAt',
      },
    ];
    for (const c of cases) {
      const res = await s.call('POST', '/api/v1/changes', { key: s.keys.ingest, json: c.json });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal((res.body as ErrorBody).error.field, c.field);
    }
    const badStatus = await s.call('GET', '/api/v1/changes?approvalStatus=maybe', { key: s.keys.read });
    assert.equal((badStatus.body as ErrorBody).error.field, 'approvalStatus');
    assert.equal((await tg.changes.list({ limit: 1000 })).items.length, before);
  });

  it('lists with filters, search and the cursor; recent gives the last 20', async () => {
    const base = Date.UTC(2026, 1, 1);
    for (let i = 0; i < 25; i++)
      await logChange({
        title: `Flag flip ${i}`,
        changeType: 'feature_flag',
        impactLevel: i % 5 === 0 ? 'critical' : 'low',
        ticket: `OPS-${100 + i}`,
        deployedAt: new Date(base + i * 60_000).toISOString(),
      });
    const critical = await s.call('GET', '/api/v1/changes?changeType=feature_flag&impactLevel=critical', {
      key: s.keys.read,
    });
    assert.equal((critical.body as { items: ChangeBody[] }).items.length, 5);
    const search = await s.call('GET', '/api/v1/changes?search=ops-117', { key: s.keys.read });
    assert.deepEqual(
      (search.body as { items: ChangeBody[] }).items.map((c) => c.title),
      ['Flag flip 17'],
    );
    const titles: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await s.call(
        'GET',
        `/api/v1/changes?changeType=feature_flag&limit=10${cursor ? `&cursor=${cursor}` : ''}`,
        { key: s.keys.read },
      );
      const body = page.body as { items: ChangeBody[]; nextCursor: string | null };
      titles.push(...body.items.map((c) => c.title));
      cursor = body.nextCursor;
    } while (cursor);
    assert.equal(titles.length, 25);
    assert.equal(titles[0], 'Flag flip 24');
    const recent = await s.call('GET', '/api/v1/changes/recent', { key: s.keys.read });
    assert.equal((recent.body as { items: unknown[] }).items.length, 20);
  });

  it('reports on changes with DORA, and the dashboard shows impact and rollback rate for 30 days', async () => {
    const report = await s.call('GET', '/api/v1/reports/changes', { key: s.keys.read });
    assert.equal(report.status, 200);
    const r = report.body as {
      total: number;
      byImpact: Record<string, number>;
      rollbackRate: number | null;
      dora: { deployments: number; changeFailureRate: number | null };
    };
    // The report's default window is the last 30 days; compare with the library's own count.
    const now = Date.now();
    const inWindow = (await tg.changes.list({ from: now - 30 * 86_400_000, limit: 1000 })).items.length;
    assert.equal(r.total, inWindow);
    assert.ok(r.dora.deployments >= 1);
    assert.notEqual(r.rollbackRate, null);
    const bad = await s.call('GET', '/api/v1/reports/changes?from=2026-02-02&to=2026-02-01', {
      key: s.keys.read,
    });
    assert.equal(bad.status, 400);
    assert.equal((bad.body as ErrorBody).error.field, 'to');
    const dash = await s.call('GET', '/api/v1/dashboard', { key: s.keys.read });
    const d = dash.body as {
      changes: { total: number; byImpact: Record<string, number>; rollbackRate: number };
    };
    assert.equal(d.changes.total, r.total);
    assert.deepEqual(d.changes.byImpact, r.byImpact);
    assert.equal(d.changes.rollbackRate, r.rollbackRate);
  });

  it('makes a retried approval with the same Idempotency-Key a no-op instead of a 409', async () => {
    const change = await logChange({ title: 'Retry me' });
    const init = {
      key: s.keys.ingest,
      json: { by: { id: 'lead-1' } },
      headers: { 'idempotency-key': 'appr-1' },
    };
    const first = await s.call('POST', `/api/v1/changes/${change.id}/approve`, init);
    const again = await s.call('POST', `/api/v1/changes/${change.id}/approve`, init);
    assert.equal(first.status, 200);
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
  });
});
