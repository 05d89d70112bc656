import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachBackend, openTrailguard } from '../helpers/backends.ts';
import type { Trailguard } from '../../src/index.ts';
import { seedDemo } from '../../src/cli/serve-command.ts';
import { startServer } from './helpers.ts';
import type { TestServer } from './helpers.ts';

forEachBackend('serve --demo data over HTTP', (backend) => {
  let tg: Trailguard;
  let s: TestServer;
  let output = '';

  before(async () => {
    tg = await openTrailguard(backend);
    await seedDemo(tg, { write: (t: string) => (output += t) });
    s = await startServer(tg, { rateLimit: false });
  });
  after(async () => {
    await s?.close();
    await tg?.close();
  });

  it('seeds attacks that show as active signals and changes that fill the report and dashboard', async () => {
    assert.match(output, /and 9 production changes over 30 days/);
    const signals = await s.call('GET', '/api/v1/signals', { key: s.keys.read });
    const patterns = new Set((signals.body as { items: { pattern: string }[] }).items.map((i) => i.pattern));
    assert.ok(patterns.has('brute_force') && patterns.has('account_enumeration'), [...patterns].join());
    const recent = await s.call('GET', '/api/v1/changes/recent', { key: s.keys.read });
    const items = (recent.body as { items: { title: string; approvalStatus: string }[] }).items;
    assert.equal(items.length, 9);
    assert.ok(items.some((c) => c.approvalStatus === 'rejected'));
    const dash = await s.call('GET', '/api/v1/dashboard', { key: s.keys.read });
    const d = dash.body as {
      changes: {
        total: number;
        byImpact: Record<string, number>;
        rollbackRate: number;
        dora: { deployments: number };
      };
      activeSignals: unknown[];
    };
    assert.equal(d.changes.total, 9);
    assert.deepEqual(d.changes.byImpact, { critical: 2, high: 2, medium: 4, low: 1 });
    assert.equal(d.changes.dora.deployments, 4);
    assert.ok(d.changes.rollbackRate > 0);
    assert.ok(d.activeSignals.length >= 2);
    // Seeding only ever fills an empty database.
    assert.equal(await seedDemo(tg, { write: () => undefined }), false);
  });
});
