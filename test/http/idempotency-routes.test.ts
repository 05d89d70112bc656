import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachBackend, openTrailguard } from '../helpers/backends.ts';
import type { Trailguard } from '../../src/index.ts';
import { TrailguardError } from '../../src/index.ts';
import { startServer } from './helpers.ts';
import type { TestServer } from './helpers.ts';

type Batch = { count: number; ids: (string | null)[]; errors?: { index: number }[] };

// What a server killed between its commit and recording its answer leaves behind: the rows (and
// their items) committed, the key's outcome not, the holder's lease run out.
async function crashAfterCommit(tg: Trailguard, key: string): Promise<void> {
  await tg.database.db
    .updateTable('idempotency_keys')
    .set({ status_code: null, response: null, locked_until: new Date(Date.now() - 1000) })
    .where('key', '=', key)
    .execute();
}

async function eventCount(tg: Trailguard, username: string): Promise<number> {
  await tg.security.flush();
  const r = await tg.database.db
    .selectFrom('security_event_rows')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('username', '=', username)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

async function changeCount(tg: Trailguard, title: string): Promise<number> {
  const r = await tg.database.db
    .selectFrom('change_log')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('title', '=', title)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

forEachBackend('Idempotency-Key after a crash on every ingestion route', (backend) => {
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

  const post = (path: string, key: string, json: unknown) =>
    s.call('POST', path, { key: s.keys.ingest, json, headers: { 'idempotency-key': key } });

  it('POST /security-events: a retry after a crash replays the committed events instead of storing them again', async () => {
    const json = [
      { type: 'password_changed', username: 'idem-ev', ip: '203.0.113.7' },
      { type: 'login_failed', username: 'idem-ev', ip: '203.0.113.7' },
    ];
    const first = await post('/api/v1/security-events', 'ev-crash', json);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(await eventCount(tg, 'idem-ev'), 2);
    await crashAfterCommit(tg, 'ev-crash');
    const retry = await post('/api/v1/security-events', 'ev-crash', json);
    assert.equal(retry.status, 201, JSON.stringify(retry.body));
    assert.deepEqual(retry.body, first.body);
    assert.equal(await eventCount(tg, 'idem-ev'), 2);

    const single = { type: 'account_locked', username: 'idem-ev-one', ip: '203.0.113.8', context: { n: 1 } };
    const one = await post('/api/v1/security-events', 'ev-crash-one', single);
    assert.equal(one.status, 201, JSON.stringify(one.body));
    await crashAfterCommit(tg, 'ev-crash-one');
    const oneAgain = await post('/api/v1/security-events', 'ev-crash-one', single);
    assert.equal(oneAgain.status, 201, JSON.stringify(oneAgain.body));
    assert.deepEqual(oneAgain.body, one.body);
    assert.equal(await eventCount(tg, 'idem-ev-one'), 1);
  });

  it('POST /security-events: a 207 is completed by a retry with the same key, one row per item', async () => {
    const log = tg.security.log.bind(tg.security);
    let failing = true;
    tg.security.log = (type, options, extra) =>
      failing && options.username === 'idem-ev-fail'
        ? Promise.reject(
            new TrailguardError('WRITE_FAILED', 'the database did not commit the write; nothing was stored'),
          )
        : log(type, options, extra);
    try {
      const json = [
        { type: 'password_changed', username: 'idem-ev-part', ip: '203.0.113.9' },
        { type: 'password_changed', username: 'idem-ev-fail', ip: '203.0.113.9' },
        { type: 'login_failed', username: 'idem-ev-part', ip: '203.0.113.9' },
      ];
      const first = await post('/api/v1/security-events', 'ev-partial', json);
      assert.equal(first.status, 207, JSON.stringify(first.body));
      const partial = first.body as Batch;
      assert.equal(partial.ids[1], null);
      assert.equal(await eventCount(tg, 'idem-ev-part'), 2);
      assert.equal(await eventCount(tg, 'idem-ev-fail'), 0);
      failing = false;
      const again = await post('/api/v1/security-events', 'ev-partial', json);
      assert.equal(again.status, 201, JSON.stringify(again.body));
      const done = again.body as Batch;
      assert.equal(done.count, 3);
      assert.equal(done.ids[0], partial.ids[0]);
      assert.equal(done.ids[2], partial.ids[2]);
      assert.equal(await eventCount(tg, 'idem-ev-part'), 2);
      assert.equal(await eventCount(tg, 'idem-ev-fail'), 1);
      const replay = await post('/api/v1/security-events', 'ev-partial', json);
      assert.equal(replay.headers.get('idempotent-replayed'), 'true');
      assert.deepEqual(replay.body, again.body);
    } finally {
      tg.security.log = log;
    }
  });

  it('stores one event when two attempts write the same keyed event at once', async () => {
    const item = { principal: 'test', key: 'event-race', item: 0 };
    const options = { username: 'idem-ev-race', ip: '203.0.113.10' };
    const outcomes = await Promise.allSettled([
      tg.security.log('password_changed', options, { idempotency: item }),
      tg.security.log('password_changed', options, { idempotency: item }),
    ]);
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
    assert.equal(await eventCount(tg, 'idem-ev-race'), 1);
  });

  it('POST /changes: a retry after a crash answers with the committed change instead of logging a second one', async () => {
    const json = {
      changeType: 'deployment',
      title: 'idem change after crash',
      performedBy: { id: 'dev-1', name: 'Dev One' },
    };
    const first = await post('/api/v1/changes', 'change-crash', json);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    await crashAfterCommit(tg, 'change-crash');
    const retry = await post('/api/v1/changes', 'change-crash', json);
    assert.equal(retry.status, 201, JSON.stringify(retry.body));
    assert.deepEqual(retry.body, first.body);
    assert.equal(await changeCount(tg, 'idem change after crash'), 1);
  });

  it('logs one change when two attempts write the same keyed change at once', async () => {
    const item = { principal: 'test', key: 'change-race', item: 0 };
    const input = {
      changeType: 'configuration' as const,
      title: 'idem change race',
      performedBy: { id: 'dev-2' },
    };
    const outcomes = await Promise.allSettled([
      tg.changes.log(input, { idempotency: item }),
      tg.changes.log(input, { idempotency: item }),
    ]);
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
    assert.equal(await changeCount(tg, 'idem change race'), 1);
  });

  it('POST /logouts: a retry after a crash answers with the session it closed and closes no other', async () => {
    const t0 = Date.now() - 60_000;
    for (const offset of [0, 1000])
      await tg.logins.record({
        username: 'idem-out',
        userId: 'idem-out-1',
        success: true,
        occurredAt: new Date(t0 + offset),
      });
    await tg.logins.flush();
    const json = { userId: 'idem-out-1' };
    const first = await post('/api/v1/logouts', 'logout-crash', json);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const closed = (first.body as { login: { id: string; logoutAt: string | null } }).login;
    assert.ok(closed.logoutAt);
    await crashAfterCommit(tg, 'logout-crash');
    const retry = await post('/api/v1/logouts', 'logout-crash', json);
    assert.equal(retry.status, 200, JSON.stringify(retry.body));
    assert.deepEqual(retry.body, first.body);
    const open = await tg.database.db
      .selectFrom('login_history')
      .select('id')
      .where('user_id', '=', 'idem-out-1')
      .where('logout_at', 'is', null)
      .execute();
    assert.equal(open.length, 1, 'the older session is still open');
    assert.notEqual(open[0]?.id, closed.id);
  });

  it('closes one session when two attempts of the same keyed logout run at once', async () => {
    const t0 = Date.now() - 60_000;
    for (const offset of [0, 1000])
      await tg.logins.record({
        username: 'idem-out-race',
        userId: 'idem-out-2',
        success: true,
        occurredAt: new Date(t0 + offset),
      });
    await tg.logins.flush();
    const item = { principal: 'test', key: 'logout-race', item: 0 };
    const outcomes = await Promise.allSettled([
      tg.logins.recordLogout({ userId: 'idem-out-2' }, { idempotency: item }),
      tg.logins.recordLogout({ userId: 'idem-out-2' }, { idempotency: item }),
    ]);
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
    const closed = await tg.database.db
      .selectFrom('login_history')
      .select('id')
      .where('user_id', '=', 'idem-out-2')
      .where('logout_at', 'is not', null)
      .execute();
    assert.equal(closed.length, 1);
  });
});
