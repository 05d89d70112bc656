import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachBackend, openTrailguard } from '../helpers/backends.ts';
import type { Trailguard } from '../../src/index.ts';
import { TrailguardError } from '../../src/index.ts';
import { loginCount, startServer } from './helpers.ts';
import type { TestServer } from './helpers.ts';

type ErrorBody = { error: { code: string; message: string; field?: string } };

const DAY = 86_400_000;

/** occurredAt values the database cannot store, or that would create partitions at will. */
const OUT_OF_RANGE: string[] = [
  '0000-01-01T00:00:00Z',
  '0099-01-01T00:00:00Z',
  '1969-12-31T23:59:59Z',
  '9999-12-31T00:00:00Z',
];

async function eventCount(tg: Trailguard, username: string): Promise<number> {
  await tg.security.flush();
  const r = await tg.database.db
    .selectFrom('security_event_rows')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('username', '=', username)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

forEachBackend('ingestion batches and event time', (backend) => {
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

  it('rejects a login batch with an occurredAt outside 1970 … now + 24 h naming the item, storing nothing, also on retry', async () => {
    const before = await loginCount(tg);
    const future = new Date(Date.now() + 2 * DAY).toISOString();
    for (const [n, at] of [...OUT_OF_RANGE, future].entries()) {
      const json = [
        { username: 'range-ok', success: true },
        { username: 'range-bad', success: true, occurredAt: at },
      ];
      for (let attempt = 0; attempt < 2; attempt++) {
        const res = await s.call('POST', '/api/v1/logins', {
          key: s.keys.ingest,
          json,
          headers: { 'idempotency-key': `range-${n}` },
        });
        assert.equal(res.status, 400, `${at}: ${JSON.stringify(res.body)}`);
        const err = (res.body as ErrorBody).error;
        assert.equal(err.code, 'VALIDATION_FAILED');
        assert.equal(err.field, '1.occurredAt');
      }
    }
    const single = await s.call('POST', '/api/v1/logins', {
      key: s.keys.ingest,
      json: { username: 'range-bad', success: true, occurredAt: '0099-01-01T00:00:00Z' },
    });
    assert.equal(single.status, 400);
    assert.equal((single.body as ErrorBody).error.field, 'occurredAt');
    const logout = await s.call('POST', '/api/v1/logouts', {
      key: s.keys.ingest,
      json: { userId: 'range-user', occurredAt: '0099-01-01T00:00:00Z' },
    });
    assert.equal(logout.status, 400);
    assert.equal((logout.body as ErrorBody).error.field, 'occurredAt');
    assert.equal(await loginCount(tg), before);
  });

  it('accepts event times from 1970-01-01 to a day ahead, so historical logs can be replayed', async () => {
    const before = await loginCount(tg);
    const json = [
      { username: 'replay', success: false, occurredAt: '1970-01-01T00:00:00Z' },
      { username: 'replay', success: false, occurredAt: '2001-09-09T01:46:40Z' },
      { username: 'replay', success: true, occurredAt: Date.now() + DAY - 60_000 },
    ];
    const res = await s.call('POST', '/api/v1/logins', { key: s.keys.ingest, json });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(await loginCount(tg), before + 3);
    const years = await s.call('GET', '/api/v1/logins/calendar', { key: s.keys.read });
    const periods = (years.body as { items: { period: string }[] }).items.map((i) => i.period.slice(0, 4));
    assert.ok(periods.includes('1970') && periods.includes('2001'), periods.join());
  });

  it('rejects a security event batch with an out-of-range occurredAt naming the item, storing nothing', async () => {
    for (const at of OUT_OF_RANGE) {
      const res = await s.call('POST', '/api/v1/security-events', {
        key: s.keys.ingest,
        json: [
          { type: 'password_changed', ip: '192.0.2.1', username: 'ev-ok' },
          { type: 'password_changed', ip: '192.0.2.1', username: 'ev-bad', occurredAt: at },
        ],
        headers: { 'idempotency-key': `ev-${at}` },
      });
      assert.equal(res.status, 400, `${at}: ${JSON.stringify(res.body)}`);
      assert.equal((res.body as ErrorBody).error.field, '1.occurredAt');
    }
    assert.equal(await eventCount(tg, 'ev-ok'), 0);
  });

  it('bounds occurredAt in the library too, with the field named', async () => {
    const cases: [string, () => Promise<unknown>][] = [
      ['logins.record', () => tg.logins.record({ username: 'lib', success: true, occurredAt: '0099-01-01' })],
      [
        'logins.record (future)',
        () => tg.logins.record({ username: 'lib', success: true, occurredAt: Date.now() + 2 * DAY }),
      ],
      ['logins.recordLogout', () => tg.logins.recordLogout({ userId: 'lib', occurredAt: new Date(-1) })],
      [
        'security.loginFailed',
        () => tg.security.loginFailed({ username: 'lib', ip: '192.0.2.9', occurredAt: '9999-12-31' }),
      ],
      [
        'security.log',
        () => tg.security.log('password_changed', { ip: '192.0.2.9', occurredAt: '1969-12-31T23:59:59Z' }),
      ],
    ];
    for (const [name, call] of cases) {
      await assert.rejects(
        call,
        (err: unknown) =>
          err instanceof TrailguardError && err.code === 'VALIDATION_FAILED' && err.field === 'occurredAt',
        name,
      );
    }
  });

  it('answers a partly stored batch with 207 listing what was stored; a retry with the same Idempotency-Key stores only the rest', async () => {
    // A database failure for one item (after validation): stand in for it at the service boundary.
    const record = tg.logins.record.bind(tg.logins);
    let failing = true;
    tg.logins.record = (input, options) =>
      failing && input.username === 'partial-fail'
        ? Promise.reject(
            new TrailguardError('WRITE_FAILED', 'the database did not commit the write; nothing was stored'),
          )
        : record(input, options);
    try {
      const before = await loginCount(tg);
      const json = [
        { username: 'partial-a', success: true },
        { username: 'partial-fail', success: true },
        { username: 'partial-b', success: true },
      ];
      const headers = { 'idempotency-key': 'partial-1' };
      const first = await s.call('POST', '/api/v1/logins', { key: s.keys.ingest, json, headers });
      assert.equal(first.status, 207, JSON.stringify(first.body));
      const body = first.body as { count: number; ids: (string | null)[]; errors: { index: number }[] };
      assert.equal(body.count, 2);
      assert.equal(body.ids.length, 3);
      assert.equal(body.ids[1], null);
      assert.ok(body.ids[0] && body.ids[2]);
      assert.deepEqual(
        body.errors.map((e) => e.index),
        [1],
      );
      assert.equal(await loginCount(tg), before + 2);
      // The database is back: the same request with the same key completes the batch, one row per item.
      failing = false;
      const again = await s.call('POST', '/api/v1/logins', { key: s.keys.ingest, json, headers });
      assert.equal(again.status, 201, JSON.stringify(again.body));
      const done = again.body as { count: number; ids: string[] };
      assert.equal(done.count, 3);
      assert.equal(done.ids[0], body.ids[0]);
      assert.equal(done.ids[2], body.ids[2]);
      assert.ok(done.ids[1]);
      assert.equal(await loginCount(tg), before + 3);
      const replay = await s.call('POST', '/api/v1/logins', { key: s.keys.ingest, json, headers });
      assert.equal(replay.status, 201);
      assert.equal(replay.headers.get('idempotent-replayed'), 'true');
      assert.deepEqual(replay.body, again.body);
      assert.equal(await loginCount(tg), before + 3);
      failing = true;

      // Nothing stored: the error itself, and the key is forgotten so a retry runs for real.
      const none = await s.call('POST', '/api/v1/logins', {
        key: s.keys.ingest,
        json: [{ username: 'partial-fail', success: true }],
        headers: { 'idempotency-key': 'partial-2' },
      });
      assert.equal(none.status, 503);
      assert.equal((none.body as ErrorBody).error.code, 'WRITE_FAILED');
    } finally {
      tg.logins.record = record;
    }
  });
});
