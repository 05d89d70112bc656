import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { manualClock } from '../index.ts';
import type { LogChangeInput, Trailguard } from '../index.ts';
import { forEachBackend, openTrailguard } from '../../test/helpers/backends.ts';

const ann = { id: 'u-ann', name: 'Ann' };
const bob = { id: 'u-bob', name: 'Bob' };

forEachBackend('DORA from incidents, rollbacks and reverts', (backend) => {
  let tg: Trailguard;
  const clock = manualClock('2024-04-01T00:00:00Z');
  const ids: Record<string, string> = {};

  async function deploy(key: string, at: string, extra: Partial<LogChangeInput>): Promise<void> {
    clock.set(at);
    const c = await tg.changes.log({
      changeType: 'deployment',
      title: key,
      performedBy: ann,
      deployedAt: at,
      ...extra,
    });
    ids[key] = c.id;
  }

  before(async () => {
    tg = await openTrailguard(backend, { clock, geo: false });
    // The hand-computed fixture: window 2024-04-01 .. 2024-04-11 (10 days), production.
    //  key systems    deployed     lead   outcome
    //  p1  api        04-02 00:00  1 h    caused incident I1 (04-02 01:00 → 03:00, 2 h)
    //  p2  auth       04-03 00:00  3 h    —
    //  p3  auth, api  04-04 00:00  5 h    rolled back 04-04 06:00 (6 h), no incident
    //  p4  web        04-05 00:00  —      reverted by r1 at 04-05 04:00 (4 h), no incident
    //  r1  web        04-05 04:00  —      the revert ("This reverts commit aaaaaaa1")
    //  p5  api        04-06 00:00  7 h    —
    //  I2  auth       incident with no causing change, 04-07 00:00 → 10:00 (10 h)
    //  I3  web        incident still open, from 04-08
    //  s1  (staging)  04-02 00:00         outside the environment
    await deploy('p1', '2024-04-02T00:00:00Z', {
      affectedSystems: ['api'],
      gitCommittedAt: '2024-04-01T23:00:00Z',
    });
    await deploy('s1', '2024-04-02T00:00:00Z', { affectedSystems: ['api'], environment: 'staging' });
    await deploy('p2', '2024-04-03T00:00:00Z', {
      affectedSystems: ['auth'],
      gitCommittedAt: '2024-04-02T21:00:00Z',
    });
    await deploy('p3', '2024-04-04T00:00:00Z', {
      affectedSystems: ['auth', 'api'],
      gitCommittedAt: '2024-04-03T19:00:00Z',
    });
    clock.set('2024-04-04T06:00:00Z');
    await tg.changes.markRolledBack(ids['p3']!, { by: bob });
    await deploy('p4', '2024-04-05T00:00:00Z', { affectedSystems: ['web'], gitCommit: 'aaaaaaa1' });
    await deploy('r1', '2024-04-05T04:00:00Z', {
      affectedSystems: ['web'],
      title: 'Revert "p4"',
      description: 'This reverts commit aaaaaaa1.',
    });
    await deploy('p5', '2024-04-06T00:00:00Z', {
      affectedSystems: ['api'],
      gitCommittedAt: '2024-04-05T17:00:00Z',
    });
    clock.set('2024-04-02T01:30:00Z');
    const i1 = await tg.incidents.open({
      title: 'I1',
      severity: 'high',
      openedBy: bob,
      startedAt: '2024-04-02T01:00:00Z',
      causes: [ids['p1']!],
    });
    await tg.incidents.resolve(i1.id, { by: bob, resolvedAt: '2024-04-02T03:00:00Z' });
    clock.set('2024-04-07T00:10:00Z');
    const i2 = await tg.incidents.open({
      title: 'I2',
      severity: 'low',
      openedBy: bob,
      affectedSystems: ['auth'],
      startedAt: '2024-04-07T00:00:00Z',
    });
    await tg.incidents.resolve(i2.id, { by: bob, resolvedAt: '2024-04-07T10:00:00Z' });
    clock.set('2024-04-08T00:00:00Z');
    await tg.incidents.open({ title: 'I3', severity: 'low', openedBy: bob, affectedSystems: ['web'] });
    clock.set('2024-04-20T00:00:00Z');
  });
  after(async () => {
    await tg?.close();
  });

  it('matches the hand computation for the environment and for each service', async () => {
    const { dora } = await tg.changes.report({ from: '2024-04-01T00:00:00Z', to: '2024-04-11T00:00:00Z' });
    const { byService, ...overall } = dora;
    assert.deepEqual(overall, {
      environment: 'production',
      deployments: 6,
      deploymentFrequency: 0.6,
      leadTimeForChangesHours: 4, // median of 1, 3, 5, 7
      failedDeployments: 3, // p1 (incident), p3 (rollback), p4 (revert)
      changeFailureRate: 50,
      incidents: 3,
      timeToRestoreHours: 5, // median of I1 2, r1 4, p3 6, I2 10
    });
    assert.deepEqual(byService, [
      {
        service: 'api',
        deployments: 3,
        deploymentFrequency: 0.3,
        leadTimeForChangesHours: 5, // 1, 5, 7
        failedDeployments: 2,
        changeFailureRate: (2 / 3) * 100,
        incidents: 1, // I1, through its cause p1
        timeToRestoreHours: 4, // I1 2, p3 6
      },
      {
        service: 'auth',
        deployments: 2,
        deploymentFrequency: 0.2,
        leadTimeForChangesHours: 4, // 3, 5
        failedDeployments: 1,
        changeFailureRate: 50,
        incidents: 1,
        timeToRestoreHours: 8, // p3 6, I2 10
      },
      {
        service: 'web',
        deployments: 2,
        deploymentFrequency: 0.2,
        leadTimeForChangesHours: null,
        failedDeployments: 1,
        changeFailureRate: 50,
        incidents: 1, // I3, still open: no restore time
        timeToRestoreHours: 4,
      },
    ]);
  });

  it('reports another environment on its own', async () => {
    const { dora } = await tg.changes.report({
      from: '2024-04-01T00:00:00Z',
      to: '2024-04-11T00:00:00Z',
      environment: 'staging',
    });
    assert.equal(dora.deployments, 1);
    assert.equal(dora.changeFailureRate, 0);
    assert.equal(dora.incidents, 0);
    assert.equal(dora.timeToRestoreHours, null);
    assert.deepEqual(
      dora.byService.map((s) => s.service),
      ['api'],
    );
  });
});
