import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { TEST_REDIS_URL, forEachBackend, openTrailguard } from '../helpers/backends.ts';
import type { Trailguard } from '../../src/index.ts';
import { startServer } from './helpers.ts';
import type { TestServer } from './helpers.ts';

interface EventBody {
  id: string;
  type: string;
  severity: string;
  username: string | null;
  ipAddress: string | null;
  context: Record<string, unknown>;
}
interface SignalBody {
  pattern: string;
  key: string;
  count: number;
  expiresAt: string;
}

async function eventCount(tg: Trailguard): Promise<number> {
  await tg.security.flush();
  const r = await tg.database.db
    .selectFrom('security_events')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

forEachBackend('security events over HTTP', (backend) => {
  let tg: Trailguard;
  let s: TestServer;

  before(async () => {
    // Detection on Redis when it is configured (keys under a prefix of this suite's own). The
    // deadline is generous: a shared Redis on a loaded machine can miss the default 100 ms, and the
    // fallback would then count part of the failures apart (a wrong count, "degraded"). What these
    // tests assert is detection's outcome; the deadline has its own tests under test/detect.
    tg = await openTrailguard(backend, {
      ...(TEST_REDIS_URL ? { redisUrl: TEST_REDIS_URL } : {}),
      detection: { keyPrefix: `tgtest-${randomBytes(4).toString('hex')}:`, redisTimeoutMs: 3_000 },
    });
    s = await startServer(tg, { rateLimit: false });
  });
  after(async () => {
    await s?.close();
    await tg?.close();
  });

  it('records a typed event and finds it with the filters', async () => {
    const res = await s.call('POST', '/api/v1/security-events', {
      key: s.keys.ingest,
      json: {
        type: 'password_changed',
        username: 'pat@example.com',
        userId: 42,
        ip: '192.0.2.10',
        userAgent: 'curl/8.5.0',
        reason: 'user_request',
        occurredAt: '2026-01-05T10:00:00Z',
        context: { apiToken: 'abc', plan: 'pro' },
      },
    });
    assert.equal(res.status, 201);
    const event = res.body as EventBody;
    assert.equal(event.type, 'password_changed');
    assert.equal(event.severity, 'info');
    assert.equal(event.ipAddress, '192.0.2.10');
    assert.deepEqual(event.context, { apiToken: '[REDACTED]', plan: 'pro' });
    const found = await s.call('GET', '/api/v1/security-events?type=password_changed&ip=192.0.2.0/24', {
      key: s.keys.read,
    });
    assert.equal(found.status, 200);
    const items = (found.body as { items: EventBody[] }).items;
    assert.deepEqual(
      items.map((i) => i.id),
      [event.id],
    );
    const none = await s.call('GET', '/api/v1/security-events?type=password_changed&severity=critical', {
      key: s.keys.read,
    });
    assert.deepEqual((none.body as { items: unknown[] }).items, []);
  });

  it('pages through events with the cursor, newest first', async () => {
    const batch = Array.from({ length: 5 }, (_, i) => ({
      type: '2fa_enabled',
      username: 'pager',
      ip: '192.0.2.20',
      occurredAt: Date.UTC(2026, 0, 6, 0, i),
    }));
    const res = await s.call('POST', '/api/v1/security-events', { key: s.keys.ingest, json: batch });
    assert.equal(res.status, 201);
    assert.equal((res.body as { count: number }).count, 5);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `/api/v1/security-events?username=pager&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await s.call('GET', q, { key: s.keys.read });
      const body = page.body as { items: { occurredAt: string }[]; nextCursor: string | null };
      seen.push(...body.items.map((i) => i.occurredAt));
      cursor = body.nextCursor;
    } while (cursor);
    assert.deepEqual(
      seen,
      [4, 3, 2, 1, 0].map((m) => new Date(Date.UTC(2026, 0, 6, 0, m)).toISOString()),
    );
  });

  it('rejects a batch with one bad event naming its index, and stores nothing', async () => {
    const before = await eventCount(tg);
    const batch = Array.from({ length: 5 }, () => ({
      type: 'account_locked',
      username: 'x',
      ip: '192.0.2.1',
    }));
    const cases: { json: unknown; field: string }[] = [
      { json: batch.map((e, i) => (i === 3 ? { ...e, ip: 'nope' } : e)), field: '3.ip' },
      { json: batch.map((e, i) => (i === 1 ? { ...e, type: 'made_up' } : e)), field: '1.type' },
      { json: { type: 'login_failed', ip: '192.0.2.1' }, field: 'username' },
      { json: { type: 'account_locked', username: 'x' }, field: 'ip' },
      { json: { type: 'account_locked', ip: '192.0.2.1', severity: 'fatal' }, field: 'severity' },
      { json: { type: 'account_locked', ip: '192.0.2.1', occurredAt: 'soon' }, field: 'occurredAt' },
      { json: { type: 'account_locked', ip: '192.0.2.1', colour: 'red' }, field: 'colour' },
      {
        json: { type: 'account_locked', ip: '192.0.2.1', context: { big: 'x'.repeat(20_000) } },
        field: 'context',
      },
    ];
    for (const c of cases) {
      const res = await s.call('POST', '/api/v1/security-events', { key: s.keys.ingest, json: c.json });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      const err = (res.body as { error: { code: string; field: string } }).error;
      assert.equal(err.code, 'VALIDATION_FAILED');
      assert.equal(err.field, c.field);
    }
    const q = await s.call('GET', '/api/v1/security-events?severity=loud', { key: s.keys.read });
    assert.equal((q.body as { error: { field: string } }).error.field, 'severity');
    assert.equal(await eventCount(tg), before);
  });

  it('makes a retried event with the same Idempotency-Key a no-op', async () => {
    const before = await eventCount(tg);
    const json = { type: 'account_locked', username: 'idem', ip: '192.0.2.30' };
    const headers = { 'idempotency-key': 'sec-1' };
    const first = await s.call('POST', '/api/v1/security-events', { key: s.keys.ingest, json, headers });
    const again = await s.call('POST', '/api/v1/security-events', { key: s.keys.ingest, json, headers });
    assert.equal(first.status, 201);
    assert.deepEqual(again.body, first.body);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(await eventCount(tg), before + 1);
  });

  it('runs detection on ingested failures: active signals, dashboard and metrics', async () => {
    const ip = '203.0.113.77';
    const failures = Array.from({ length: 5 }, (_, i) => ({
      type: 'login_failed',
      username: `victim${i}@example.com`,
      ip,
      reason: 'invalid_password',
    }));
    for (const f of failures) {
      const r = await s.call('POST', '/api/v1/security-events', { key: s.keys.ingest, json: f });
      assert.equal(r.status, 201);
    }
    const signals = await s.call('GET', '/api/v1/signals', { key: s.keys.read });
    assert.equal(signals.status, 200);
    const items = (signals.body as { items: SignalBody[] }).items;
    const brute = items.find((i) => i.pattern === 'brute_force' && i.key === ip);
    assert.ok(brute, JSON.stringify(items));
    assert.equal(brute.count, 5);
    assert.ok(new Date(brute.expiresAt).getTime() > tg.config.clock.now().getTime());
    const dash = await s.call('GET', '/api/v1/dashboard', { key: s.keys.read });
    const active = (dash.body as { activeSignals: SignalBody[] }).activeSignals;
    assert.ok(active.some((a) => a.pattern === 'brute_force' && a.key === ip));
    const metrics = (await s.call('GET', '/metrics', { key: s.keys.read })).body as string;
    assert.match(metrics, /trailguard_security_events_total\{type="login_failed",severity="warning"\} [1-9]/);
    assert.match(
      metrics,
      /trailguard_security_events_total\{type="suspicious_activity",severity="critical"\} [1-9]/,
    );
    assert.match(metrics, /trailguard_signals_total\{pattern="brute_force"\} [1-9]/);
    assert.match(metrics, /trailguard_detection_degraded 0/);
    // Events recorded through login history count as well.
    await s.call('POST', '/api/v1/logins', {
      key: s.keys.ingest,
      json: { username: 'ok@example.com', success: true, ip: '192.0.2.99' },
    });
    const after = (await s.call('GET', '/metrics', { key: s.keys.read })).body as string;
    assert.match(after, /trailguard_security_events_total\{type="login_success",severity="info"\} [1-9]/);
  });

  it('lets an admin reset the counters of an address, and records who did it', async () => {
    const ip = '203.0.113.88';
    for (let i = 0; i < 5; i++)
      await tg.security.loginFailed({ username: `r${i}`, ip, reason: 'invalid_password' });
    assert.deepEqual((await tg.security.check({ ip })).reasons, ['brute_force']);
    const denied = await s.call('POST', '/api/v1/security/reset', { key: s.keys.read, json: { ip } });
    assert.equal(denied.status, 403);
    const empty = await s.call('POST', '/api/v1/security/reset', { key: s.keys.admin, json: {} });
    assert.equal(empty.status, 400);
    const bad = await s.call('POST', '/api/v1/security/reset', { key: s.keys.admin, json: { ip: 'x' } });
    assert.equal((bad.body as { error: { field: string } }).error.field, 'ip');
    const res = await s.call('POST', '/api/v1/security/reset', { key: s.keys.admin, json: { ip } });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { ip, username: null });
    assert.deepEqual((await tg.security.check({ ip })).reasons, []);
    const unlocked = await s.call('GET', `/api/v1/security-events?type=account_unlocked&ip=${ip}`, {
      key: s.keys.read,
    });
    const ev = (unlocked.body as { items: EventBody[] }).items[0];
    assert.equal(ev?.context['action'], 'reset_counters');
    assert.match(String(ev?.context['by']), /^key:/);
  });
});

describe('detection degraded metric', () => {
  let tg: Trailguard;
  let s: TestServer;
  before(async () => {
    // Nothing listens on port 1: detection falls back to in-process state.
    tg = await openTrailguard('pglite', {
      redisUrl: 'redis://127.0.0.1:1',
      detection: { redisTimeoutMs: 50 },
    });
    s = await startServer(tg, { rateLimit: false, redisUrl: 'redis://127.0.0.1:1' });
  });
  after(async () => {
    await s?.close();
    await tg?.close();
  });

  it('reports 1 while detection runs on the in-process fallback, and keeps accepting events', async () => {
    const r = await s.call('POST', '/api/v1/security-events', {
      key: s.keys.ingest,
      json: { type: 'login_failed', username: 'u@example.com', ip: '192.0.2.5' },
    });
    assert.equal(r.status, 201);
    const metrics = (await s.call('GET', '/metrics', { key: s.keys.read })).body as string;
    assert.match(metrics, /trailguard_detection_degraded 1/);
  });

  it('answers a counter reset with 503 and Retry-After while Redis is unreachable, and resets nothing', async () => {
    const ip = '192.0.2.6';
    for (let i = 0; i < 5; i++) await tg.security.loginFailed({ username: `d${i}@example.com`, ip });
    const res = await s.call('POST', '/api/v1/security/reset', { key: s.keys.admin, json: { ip } });
    assert.equal(res.status, 503);
    assert.equal((res.body as { error: { code: string } }).error.code, 'DETECTION_UNAVAILABLE');
    assert.equal(res.headers.get('retry-after'), '1');
    // Not reported as done: the counts stand and no account_unlocked event was logged.
    assert.deepEqual((await tg.security.check({ ip })).reasons, ['brute_force']);
    const unlocked = await s.call('GET', `/api/v1/security-events?type=account_unlocked&ip=${ip}`, {
      key: s.keys.read,
    });
    assert.deepEqual((unlocked.body as { items: unknown[] }).items, []);
  });
});
