import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { forEachBackend, openTrailguard } from '../helpers/backends.ts';
import type { Trailguard } from '../../src/index.ts';
import { toTrailguardError } from '../../src/http/errors.ts';
import { loginCount, startServer } from './helpers.ts';
import type { TestServer } from './helpers.ts';

type ErrorBody = { error: { code: string; message: string; field?: string } };

describe('database errors as HTTP answers', () => {
  const unavailable: [string, unknown][] = [
    [
      'connection refused',
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
    ],
    ['connection reset', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    [
      'admin shutdown',
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
    ],
    ['starting up', Object.assign(new Error('the database system is starting up'), { code: '57P03' })],
    ['connection exception', Object.assign(new Error('connection failure'), { code: '08006' })],
    ['lost mid-query', new Error('Connection terminated unexpectedly')],
    ['pool timeout', new Error('timeout exceeded when trying to connect')],
    [
      'refused on every address',
      new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]),
    ],
  ];
  for (const [name, err] of unavailable) {
    it(`answers 503 DATABASE_UNAVAILABLE for ${name}`, () => {
      const mapped = toTrailguardError(err);
      assert.equal(mapped.code, 'DATABASE_UNAVAILABLE');
      assert.equal(mapped.status, 503);
      assert.equal(mapped.cause, err);
    });
  }

  it('keeps a wrong statement a 500, not a retryable 503', () => {
    const mapped = toTrailguardError(
      Object.assign(new Error('syntax error at or near "x"'), { code: '42601' }),
    );
    assert.equal(mapped.code, 'INTERNAL_ERROR');
    assert.equal(mapped.status, 500);
  });
});

forEachBackend('database outages over HTTP', (backend) => {
  let tg: Trailguard;
  let s: TestServer;
  const lines: Record<string, unknown>[] = [];

  before(async () => {
    tg = await openTrailguard(backend);
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n'))
          if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    s = await startServer(tg, { rateLimit: false, logger: { level: 'error', stream } });
  });
  after(async () => {
    await s?.close();
    await tg?.close();
  });

  it('answers a read that loses its connection with 503 and Retry-After, and logs the cause without the password', async () => {
    const list = tg.logins.list.bind(tg.logins);
    tg.logins.list = () =>
      Promise.reject(
        Object.assign(new Error('connect ECONNREFUSED for postgres://tg:hunter2@db.internal/tg'), {
          code: 'ECONNREFUSED',
        }),
      );
    try {
      lines.length = 0;
      const res = await s.call('GET', '/api/v1/logins', { key: s.keys.read });
      assert.equal(res.status, 503);
      assert.equal((res.body as ErrorBody).error.code, 'DATABASE_UNAVAILABLE');
      assert.match(res.headers.get('retry-after') ?? '', /^\d+$/);
      assert.doesNotMatch(JSON.stringify(res.body), /ECONNREFUSED|hunter2/);
      const line = lines.find((l) => l['code'] === 'DATABASE_UNAVAILABLE');
      assert.ok(line, JSON.stringify(lines));
      assert.equal(line['level'], 50);
      assert.equal(line['route'], '/api/v1/logins');
      assert.ok(line['reqId']);
      const logged = JSON.stringify(line);
      assert.match(logged, /ECONNREFUSED/);
      assert.doesNotMatch(logged, /hunter2/);
    } finally {
      tg.logins.list = list;
    }
  });

  it('answers an ingest whose batch fails mid-commit with 503 and Retry-After, logging the batch once', async () => {
    const record = tg.logins.record.bind(tg.logins);
    tg.logins.record = () => Promise.reject(new Error('Connection terminated unexpectedly'));
    try {
      lines.length = 0;
      const json = [
        { username: 'secret-body-user', success: true },
        { username: 'secret-body-user', success: false },
      ];
      const res = await s.call('POST', '/api/v1/logins', { key: s.keys.ingest, json });
      assert.equal(res.status, 503);
      assert.equal((res.body as ErrorBody).error.code, 'DATABASE_UNAVAILABLE');
      assert.ok(res.headers.get('retry-after'));
      assert.equal(lines.length, 1, JSON.stringify(lines));
      assert.doesNotMatch(JSON.stringify(lines), /secret-body-user/);
    } finally {
      tg.logins.record = record;
    }
  });

  it('replays the committed outcome when the first attempt died after its commit and before its answer', async () => {
    const before = await loginCount(tg);
    const json = [
      { username: 'crash-a', success: true },
      { username: 'crash-b', success: false },
    ];
    const headers = { 'idempotency-key': 'crash-after-commit' };
    const first = await s.call('POST', '/api/v1/logins', { key: s.keys.ingest, json, headers });
    assert.equal(first.status, 201);
    // The state a server killed between commit and answer leaves: items committed, outcome not,
    // the holder's lease run out.
    await tg.database.db
      .updateTable('idempotency_keys')
      .set({ status_code: null, response: null, locked_until: new Date(Date.now() - 1000) })
      .where('key', '=', 'crash-after-commit')
      .execute();
    const retry = await s.call('POST', '/api/v1/logins', { key: s.keys.ingest, json, headers });
    assert.equal(retry.status, 201, JSON.stringify(retry.body));
    assert.deepEqual(retry.body, first.body);
    assert.equal(await loginCount(tg), before + 2);

    const single = { username: 'crash-one', success: true };
    const one = await s.call('POST', '/api/v1/logins', {
      key: s.keys.ingest,
      json: single,
      headers: { 'idempotency-key': 'crash-one' },
    });
    assert.equal(one.status, 201);
    await tg.database.db
      .updateTable('idempotency_keys')
      .set({ status_code: null, response: null, locked_until: null })
      .where('key', '=', 'crash-one')
      .execute();
    const oneAgain = await s.call('POST', '/api/v1/logins', {
      key: s.keys.ingest,
      json: single,
      headers: { 'idempotency-key': 'crash-one' },
    });
    assert.equal(oneAgain.status, 201);
    assert.equal((oneAgain.body as { id: string }).id, (one.body as { id: string }).id);
    assert.equal(await loginCount(tg), before + 3);
  });

  it('answers 409 with Retry-After while the holder of a key is alive, and lets a retry take over once its lease ran out', async () => {
    const before = await loginCount(tg);
    const json = [{ username: 'lease-a', success: true }];
    const headers = { 'idempotency-key': 'lease-1' };
    // A first attempt that failed before storing anything, whose holder then died (lease still live).
    const record = tg.logins.record.bind(tg.logins);
    tg.logins.record = () => Promise.reject(new Error('Connection terminated unexpectedly'));
    try {
      const failed = await s.call('POST', '/api/v1/logins', { key: s.keys.ingest, json, headers });
      assert.equal(failed.status, 503);
    } finally {
      tg.logins.record = record;
    }
    await tg.database.db
      .updateTable('idempotency_keys')
      .set({ locked_until: new Date(Date.now() + 20_000) })
      .where('key', '=', 'lease-1')
      .execute();
    const busy = await s.call('POST', '/api/v1/logins', { key: s.keys.ingest, json, headers });
    assert.equal(busy.status, 409);
    assert.equal((busy.body as ErrorBody).error.code, 'IDEMPOTENCY_IN_PROGRESS');
    assert.ok(Number(busy.headers.get('retry-after')) >= 15);
    await tg.database.db
      .updateTable('idempotency_keys')
      .set({ locked_until: new Date(Date.now() - 1) })
      .where('key', '=', 'lease-1')
      .execute();
    const taken = await s.call('POST', '/api/v1/logins', { key: s.keys.ingest, json, headers });
    assert.equal(taken.status, 201, JSON.stringify(taken.body));
    assert.equal(await loginCount(tg), before + 1);
    const different = await s.call('POST', '/api/v1/logins', {
      key: s.keys.ingest,
      json: [{ username: 'lease-b', success: true }],
      headers,
    });
    assert.equal(different.status, 422);
  });

  it('stores one row when two attempts write the same keyed item at once', async () => {
    const before = await loginCount(tg);
    const item = { principal: 'test', key: 'race-1', item: 0 };
    const outcomes = await Promise.allSettled([
      tg.logins.record({ username: 'race', success: true }, { idempotency: item }),
      tg.logins.record({ username: 'race', success: true }, { idempotency: item }),
    ]);
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
    assert.equal(await loginCount(tg), before + 1);
  });
});
