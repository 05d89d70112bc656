import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachBackend, openTrailguard } from '../helpers/backends.ts';
import type { Trailguard } from '../../src/index.ts';
import { startServer } from './helpers.ts';
import type { TestServer } from './helpers.ts';

interface IncidentBody {
  id: string;
  status: string;
  causes: { changeId: string }[];
  remedy: { changeId: string; via: string } | null;
  history?: { action: string }[];
}
type ErrorBody = { error: { code: string; field?: string } };

forEachBackend('incidents over HTTP', (backend) => {
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

  it('opens an incident from a change, links its remedy, resolves it and lists it by change', async () => {
    const cause = await tg.changes.log({
      changeType: 'deployment',
      title: 'Deploy',
      performedBy: { id: 'dev' },
    });
    const fix = await tg.changes.log({
      changeType: 'deployment',
      title: 'Hotfix',
      performedBy: { id: 'dev' },
    });
    const opened = await s.call('POST', '/api/v1/incidents', {
      key: s.keys.ingest,
      json: {
        title: 'Checkout errors',
        severity: 'critical',
        openedBy: { id: 'oncall' },
        causes: [cause.id],
      },
    });
    assert.equal(opened.status, 201, JSON.stringify(opened.body));
    const id = (opened.body as IncidentBody).id;
    const linked = await s.call('POST', `/api/v1/incidents/${id}/links`, {
      key: s.keys.ingest,
      json: { changeId: fix.id, role: 'remedy', by: { id: 'oncall' } },
    });
    assert.equal(linked.status, 200, JSON.stringify(linked.body));
    assert.equal((linked.body as IncidentBody).remedy?.changeId, fix.id);
    const resolved = await s.call('POST', `/api/v1/incidents/${id}/resolve`, {
      key: s.keys.ingest,
      json: { by: { id: 'oncall' }, note: 'fixed' },
    });
    assert.equal((resolved.body as IncidentBody).status, 'resolved');
    const again = await s.call('POST', `/api/v1/incidents/${id}/resolve`, {
      key: s.keys.ingest,
      json: { by: { id: 'oncall' } },
    });
    assert.equal(again.status, 409);
    assert.equal((again.body as ErrorBody).error.code, 'INCIDENT_ALREADY_RESOLVED');
    const shown = await s.call('GET', `/api/v1/incidents/${id}`, { key: s.keys.read });
    assert.deepEqual(
      (shown.body as IncidentBody).history?.map((h) => h.action),
      ['opened', 'linked', 'resolved'],
    );
    const list = await s.call('GET', `/api/v1/incidents?changeId=${cause.id}`, { key: s.keys.read });
    assert.deepEqual(
      (list.body as { items: IncidentBody[] }).items.map((i) => i.id),
      [id],
    );
  });

  it('refuses a link to a change that does not exist (422) and bad input (400), naming the field', async () => {
    const missing = await s.call('POST', '/api/v1/incidents', {
      key: s.keys.ingest,
      json: {
        title: 'x',
        severity: 'low',
        openedBy: { id: 'oncall' },
        causes: ['01890000-0000-7000-8000-000000000000'],
      },
    });
    assert.equal(missing.status, 422);
    assert.deepEqual((missing.body as ErrorBody).error.code, 'INCIDENT_CHANGE_NOT_FOUND');
    assert.equal((missing.body as ErrorBody).error.field, 'causes[0]');
    const bad = await s.call('POST', '/api/v1/incidents', {
      key: s.keys.ingest,
      json: { title: 'x', severity: 'sev1', openedBy: { id: 'oncall' } },
    });
    assert.equal(bad.status, 400);
    assert.equal((bad.body as ErrorBody).error.field, 'severity');
    const unknown = await s.call('GET', '/api/v1/incidents/01890000-0000-7000-8000-000000000000', {
      key: s.keys.read,
    });
    assert.equal(unknown.status, 404);
    const readOnly = await s.call('POST', '/api/v1/incidents', {
      key: s.keys.read,
      json: { title: 'x', severity: 'low', openedBy: { id: 'oncall' } },
    });
    assert.equal(readOnly.status, 403);
    assert.equal((await tg.incidents.list({})).items.length, 1);
  });
});
