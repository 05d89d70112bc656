import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachBackend, openTrailguard } from '../helpers/backends.ts';
import type { Trailguard } from '../../src/index.ts';
import { loginCount, startServer } from './helpers.ts';
import type { TestServer } from './helpers.ts';

type Who = 'none' | 'ingest' | 'read' | 'admin' | 'viewer';
const WHO: Who[] = ['none', 'ingest', 'read', 'admin', 'viewer'];

/** Which callers each scope lets through. */
const ALLOWED: Record<string, Who[]> = {
  public: WHO,
  ingest: ['ingest', 'admin'],
  read: ['read', 'admin'],
  admin: ['admin'],
  viewer: ['viewer'],
};

const UUID = '01a20000-0000-7000-8000-000000000000';

/** A request per route that passes validation, so only authorisation decides 401/403. */
const SAMPLES: Record<string, { scope: string; json?: unknown; path?: string }> = {
  'GET /healthz': { scope: 'public' },
  'GET /readyz': { scope: 'public' },
  'GET /metrics': { scope: 'read' },
  'POST /api/v1/logins': { scope: 'ingest', json: { username: 'matrix', success: true } },
  'POST /api/v1/logouts': { scope: 'ingest', json: { userId: 'nobody' } },
  'GET /api/v1/logins': { scope: 'read' },
  'GET /api/v1/logins/failed': { scope: 'read' },
  'GET /api/v1/logins/calendar': { scope: 'read' },
  'GET /api/v1/logins/:id': { scope: 'read', path: `/api/v1/logins/${UUID}` },
  'POST /api/v1/viewer-tokens': { scope: 'read', json: { userId: 'u1' } },
  'GET /api/v1/me/logins': { scope: 'viewer' },
  'GET /api/v1/dashboard': { scope: 'read' },
  'POST /api/v1/security-events': {
    scope: 'ingest',
    json: { type: 'password_changed', username: 'matrix', ip: '192.0.2.1' },
  },
  'GET /api/v1/security-events': { scope: 'read' },
  'GET /api/v1/signals': { scope: 'read' },
  'POST /api/v1/security/reset': { scope: 'admin', json: { ip: '192.0.2.1' } },
  'POST /api/v1/changes': {
    scope: 'ingest',
    json: { changeType: 'deployment', title: 'matrix', performedBy: { id: 'dev' } },
  },
  'POST /api/v1/changes/:id/approve': {
    scope: 'ingest',
    path: `/api/v1/changes/${UUID}/approve`,
    json: { by: { id: 'lead' } },
  },
  'POST /api/v1/changes/:id/reject': {
    scope: 'ingest',
    path: `/api/v1/changes/${UUID}/reject`,
    json: { by: { id: 'lead' }, reason: 'no' },
  },
  'POST /api/v1/changes/:id/rollback': {
    scope: 'ingest',
    path: `/api/v1/changes/${UUID}/rollback`,
    json: { by: { id: 'oncall' } },
  },
  'POST /api/v1/changes/:id/validation': {
    scope: 'ingest',
    path: `/api/v1/changes/${UUID}/validation`,
    json: { by: { id: 'ci' }, status: 'passed' },
  },
  'GET /api/v1/changes': { scope: 'read' },
  'GET /api/v1/changes/recent': { scope: 'read' },
  'GET /api/v1/changes/:id': { scope: 'read', path: `/api/v1/changes/${UUID}` },
  'GET /api/v1/reports/changes': { scope: 'read' },
  'POST /api/v1/incidents': {
    scope: 'ingest',
    json: { title: 'matrix', severity: 'low', openedBy: { id: 'oncall' } },
  },
  'POST /api/v1/incidents/:id/resolve': {
    scope: 'ingest',
    path: `/api/v1/incidents/${UUID}/resolve`,
    json: { by: { id: 'oncall' } },
  },
  'POST /api/v1/incidents/:id/links': {
    scope: 'ingest',
    path: `/api/v1/incidents/${UUID}/links`,
    json: { changeId: UUID, by: { id: 'oncall' } },
  },
  'GET /api/v1/incidents': { scope: 'read' },
  'GET /api/v1/incidents/:id': { scope: 'read', path: `/api/v1/incidents/${UUID}` },
  'GET /api/v1/admin/privacy/users/:userId': {
    scope: 'admin',
    path: '/api/v1/admin/privacy/users/matrix-nobody',
  },
  'POST /api/v1/admin/privacy/users/:userId/erase': {
    scope: 'admin',
    path: '/api/v1/admin/privacy/users/matrix-nobody/erase',
    json: { reason: 'auth matrix' },
  },
  'GET /api/v1/admin/integrity': { scope: 'admin' },
  'POST /api/v1/auth/login': { scope: 'public', json: { username: 'nobody', password: 'wrong-password' } },
  'GET /api/v1/auth/session': { scope: 'admin' },
  'POST /api/v1/auth/logout': { scope: 'admin' },
  'GET /api/v1/keys': { scope: 'admin' },
  'POST /api/v1/keys': { scope: 'admin', json: { name: 'matrix', scope: 'read' } },
  'DELETE /api/v1/keys/:id': { scope: 'admin', path: `/api/v1/keys/${UUID}` },
  'GET /api/v1/users': { scope: 'admin' },
  'POST /api/v1/users': { scope: 'admin', json: { username: `matrix-user` } },
  'DELETE /api/v1/users/:id': { scope: 'admin', path: `/api/v1/users/${UUID}` },
  'GET /': { scope: 'public' },
};

forEachBackend('server over HTTP', (backend) => {
  let tg: Trailguard;
  let s: TestServer;
  let viewer: string;

  before(async () => {
    tg = await openTrailguard(backend);
    s = await startServer(tg, { rateLimit: false });
    viewer = (await s.auth.viewerTokens.issue({ userId: 'u1', issuedBy: 'test' })).token;
  });
  after(async () => {
    await s?.close();
    await tg?.close();
  });

  it('declares a scope for every route and the matrix covers all of them', () => {
    const declared = s.app.trailguardRoutes
      .filter((r) => !r.url.startsWith('/docs'))
      .map((r) => `${r.method} ${r.url}`);
    for (const route of declared) assert.ok(SAMPLES[route], `route ${route} is missing from the auth matrix`);
    for (const r of s.app.trailguardRoutes) {
      const sample = SAMPLES[`${r.method} ${r.url}`];
      if (sample) assert.equal(r.scope, sample.scope, `${r.method} ${r.url} scope`);
    }
  });

  it('allows and denies every route for no key, ingest, read, admin and viewer callers', async () => {
    for (const [route, sample] of Object.entries(SAMPLES)) {
      const [method, template] = route.split(' ') as [string, string];
      for (const who of WHO) {
        const key = who === 'none' ? null : who === 'viewer' ? viewer : s.keys[who];
        let json = sample.json;
        if (route === 'POST /api/v1/users')
          json = { username: `matrix-${who}-${Math.random().toString(36).slice(2, 8)}` };
        const res = await s.call(method, sample.path ?? template, {
          key,
          ...(json !== undefined ? { json } : {}),
        });
        const allowed = ALLOWED[sample.scope]?.includes(who);
        const code = (res.body as { error?: { code?: string } } | null)?.error?.code;
        if (allowed) {
          assert.ok(
            code !== 'UNAUTHENTICATED' && code !== 'FORBIDDEN' && res.status !== 403,
            `${route} as ${who}: expected allowed, got ${res.status} ${JSON.stringify(res.body)}`,
          );
        } else {
          assert.equal(
            res.status,
            who === 'none' ? 401 : 403,
            `${route} as ${who}: ${JSON.stringify(res.body)}`,
          );
          assert.equal(code, who === 'none' ? 'UNAUTHENTICATED' : 'FORBIDDEN');
        }
      }
    }
  });

  it('rejects a revoked key and a malformed Authorization header with 401', async () => {
    const { key, secret } = await s.auth.apiKeys.create({ name: 'to-revoke', scope: 'read' });
    assert.equal((await s.call('GET', '/api/v1/logins', { key: secret })).status, 200);
    await s.auth.apiKeys.revoke(key.id);
    const res = await s.call('GET', '/api/v1/logins', { key: secret });
    assert.equal(res.status, 401);
    assert.deepEqual(res.body, {
      error: { code: 'UNAUTHENTICATED', message: 'the API key is invalid or revoked' },
    });
    const basic = await s.call('GET', '/api/v1/logins', { headers: { authorization: 'Basic abc' } });
    assert.equal(basic.status, 401);
    const unknown = await s.call('GET', '/api/v1/logins', { key: 'tg_read_notarealkeyatall' });
    assert.equal(unknown.status, 401);
  });

  it('records one login and returns it with 201', async () => {
    const res = await s.call('POST', '/api/v1/logins', {
      key: s.keys.ingest,
      json: {
        username: 'alice@example.com',
        userId: 1001,
        success: true,
        ip: '8.8.8.8',
        userAgent: 'curl/8.5.0',
        occurredAt: '2026-01-02T03:04:05Z',
        metadata: { plan: 'pro' },
      },
    });
    assert.equal(res.status, 201);
    const body = res.body as Record<string, unknown>;
    assert.equal(body['username'], 'alice@example.com');
    assert.equal(body['userId'], '1001');
    assert.equal(body['ipAddress'], '8.8.8.8');
    assert.equal(body['loginAt'], '2026-01-02T03:04:05.000Z');
    assert.deepEqual(body['metadata'], { plan: 'pro' });
  });

  it('records a batch of 1,000 logins in one request', async () => {
    const before = await loginCount(tg);
    const batch = Array.from({ length: 1000 }, (_, i) => ({
      username: `batch${i}@example.com`,
      success: i % 3 !== 0,
      ip: `10.0.${Math.floor(i / 250)}.${i % 250}`,
    }));
    const res = await s.call('POST', '/api/v1/logins', { key: s.keys.ingest, json: batch });
    assert.equal(res.status, 201);
    const body = res.body as { count: number; ids: string[] };
    assert.equal(body.count, 1000);
    assert.equal(new Set(body.ids).size, 1000);
    assert.equal(await loginCount(tg), before + 1000);
    const page = await s.call('GET', '/api/v1/logins?ip=10.0.3.0/24&limit=1000', { key: s.keys.read });
    assert.equal((page.body as { items: unknown[] }).items.length, 250);
  });

  it('refuses a batch over 1,000 and a batch with one bad item, storing nothing', async () => {
    const before = await loginCount(tg);
    const tooMany = Array.from({ length: 1001 }, (_, i) => ({ username: `u${i}`, success: true }));
    const big = await s.call('POST', '/api/v1/logins', { key: s.keys.ingest, json: tooMany });
    assert.equal(big.status, 400);
    assert.deepEqual((big.body as { error: unknown }).error, {
      code: 'VALIDATION_FAILED',
      message: 'body: must hold 1 to 1000 items',
      field: 'body',
    });
    for (const path of ['/api/v1/logins', '/api/v1/security-events']) {
      const empty = await s.call('POST', path, { key: s.keys.ingest, json: [] });
      assert.equal(empty.status, 400);
      assert.deepEqual((empty.body as { error: unknown }).error, {
        code: 'VALIDATION_FAILED',
        message: 'body: must hold 1 to 1000 items',
        field: 'body',
      });
    }
    const items = Array.from({ length: 10 }, (_, i) => ({
      username: `u${i}`,
      success: false,
      ip: '1.2.3.4',
    }));
    items[7] = { username: 'u7', success: false, ip: 'not-an-ip' };
    const bad = await s.call('POST', '/api/v1/logins', { key: s.keys.ingest, json: items });
    assert.equal(bad.status, 400);
    assert.deepEqual((bad.body as { error: { field: string } }).error.field, '7.ip');
    assert.equal(await loginCount(tg), before);
  });

  it('answers bad input with 400 naming the field, never 500, and stores nothing', async () => {
    const before = await loginCount(tg);
    const cases: { body: string; field: string; type?: string }[] = [
      { body: '{"username": "a", "success": tru', field: 'body' },
      { body: '{"username": "a", "success": "yes"}', field: 'success' },
      { body: '{"username": 5, "success": true}', field: 'username' },
      { body: '{"username": "a", "success": true, "isAdmin": true}', field: 'isAdmin' },
      { body: JSON.stringify({ username: 'x'.repeat(5000), success: true }), field: 'username' },
      {
        body: JSON.stringify({ username: 'a', success: true, userAgent: 'u'.repeat(10_000) }),
        field: 'userAgent',
      },
      { body: '{"success": true}', field: 'username' },
      {
        body: JSON.stringify({ username: 'a', success: true, occurredAt: 'yesterday' }),
        field: 'occurredAt',
      },
      { body: JSON.stringify({ username: '   ', success: true }), field: 'username' },
      { body: '{"username": "a", "success": true, "__proto__": {"x": 1}}', field: 'body' },
      { body: '', field: 'body' },
      { body: '[]', field: 'body' },
    ];
    for (const c of cases) {
      const res = await s.call('POST', '/api/v1/logins', {
        key: s.keys.ingest,
        body: c.body,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(res.status, 400, `${c.body.slice(0, 60)} → ${res.status} ${JSON.stringify(res.body)}`);
      const err = (res.body as { error: { code: string; field?: string; message: string } }).error;
      assert.equal(err.code, 'VALIDATION_FAILED');
      assert.equal(err.field, c.field, `${c.body.slice(0, 60)}: ${err.message}`);
    }
    const q = await s.call('GET', '/api/v1/logins?limit=abc', { key: s.keys.read });
    assert.equal(q.status, 400);
    assert.equal((q.body as { error: { field: string } }).error.field, 'limit');
    const unknownQuery = await s.call('GET', '/api/v1/logins?colour=red', { key: s.keys.read });
    assert.equal((unknownQuery.body as { error: { field: string } }).error.field, 'colour');
    const cursor = await s.call('GET', '/api/v1/logins?cursor=garbage', { key: s.keys.read });
    assert.equal((cursor.body as { error: { field: string } }).error.field, 'cursor');
    assert.equal(await loginCount(tg), before);
  });

  it('refuses a NUL character in filters, credentials and names with 400 naming the field; ingestion strips it', async () => {
    const cases: { method: string; path: string; key?: string; json?: unknown; field: string }[] = [
      {
        method: 'POST',
        path: '/api/v1/auth/login',
        json: { username: 'adm\u0000in', password: 'wrongwrongwrong' },
        field: 'username',
      },
      { method: 'GET', path: '/api/v1/logins?search=%00', key: s.keys.read, field: 'search' },
      { method: 'GET', path: '/api/v1/logins?username=a%00', key: s.keys.read, field: 'username' },
      { method: 'GET', path: '/api/v1/logins/failed?username=%00', key: s.keys.read, field: 'username' },
      { method: 'GET', path: '/api/v1/changes?environment=%00', key: s.keys.read, field: 'environment' },
      {
        method: 'GET',
        path: '/api/v1/reports/changes?environment=%00',
        key: s.keys.read,
        field: 'environment',
      },
      {
        method: 'POST',
        path: '/api/v1/keys',
        key: s.keys.admin,
        json: { name: 'a\u0000b', scope: 'read' },
        field: 'name',
      },
    ];
    for (const c of cases) {
      const res = await s.call(c.method, c.path, {
        ...(c.key ? { key: c.key } : {}),
        ...(c.json ? { json: c.json } : {}),
      });
      assert.equal(res.status, 400, `${c.method} ${c.path}: ${JSON.stringify(res.body)}`);
      const err = (res.body as { error: { code: string; field: string } }).error;
      assert.equal(err.code, 'VALIDATION_FAILED');
      assert.equal(err.field, c.field, c.path);
    }
    // Recorded data keeps the library's rule: NUL is removed, the attempt is stored.
    const stored = await s.call('POST', '/api/v1/logins', {
      key: s.keys.ingest,
      json: { username: 'nul\u0000user', success: false },
    });
    assert.equal(stored.status, 201);
    assert.equal((stored.body as { username: string }).username, 'nuluser');
  });

  it('answers date filters outside 1970 … 9999 with 400 naming the field, and serves the last calendar month', async () => {
    const cases: [string, string][] = [
      ['/api/v1/logins?from=0000-01-01', 'from'],
      ['/api/v1/logins?to=0000-01-01', 'to'],
      ['/api/v1/logins?from=1969-12-31', 'from'],
      ['/api/v1/logins?search=x&from=0099-01-01', 'from'],
      ['/api/v1/security-events?from=0000-01-01', 'from'],
      ['/api/v1/changes?from=0000-01-01', 'from'],
      ['/api/v1/reports/changes?from=0000-01-01', 'from'],
    ];
    for (const [path, field] of cases) {
      const res = await s.call('GET', path, { key: s.keys.read });
      assert.equal(res.status, 400, `${path}: ${JSON.stringify(res.body)}`);
      assert.equal((res.body as { error: { field: string } }).error.field, field, path);
    }
    for (const path of [
      '/api/v1/logins/calendar?year=9999&month=12',
      '/api/v1/logins/calendar?year=9999',
      '/api/v1/logins?from=1970-01-01&to=9999-12-31',
    ]) {
      const res = await s.call('GET', path, { key: s.keys.read });
      assert.equal(res.status, 200, `${path}: ${JSON.stringify(res.body)}`);
    }
  });

  it('answers 415 for a non-JSON body, 413 over the limit and 404 for unknown routes, in the one error shape', async () => {
    const text = await s.call('POST', '/api/v1/logins', {
      key: s.keys.ingest,
      body: 'username=a',
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(text.status, 415);
    assert.equal((text.body as { error: { code: string } }).error.code, 'UNSUPPORTED_MEDIA_TYPE');
    const form = await s.call('POST', '/api/v1/logouts', {
      key: s.keys.ingest,
      body: 'a=b',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(form.status, 415);
    const huge = JSON.stringify({ userId: 'x', sessionKey: 's'.repeat(2 * 1024 * 1024) });
    const big = await s.call('POST', '/api/v1/logouts', {
      key: s.keys.ingest,
      body: huge,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(big.status, 413);
    assert.equal((big.body as { error: { code: string } }).error.code, 'PAYLOAD_TOO_LARGE');
    const missing = await s.call('GET', '/api/v1/nope', { key: s.keys.admin });
    assert.equal(missing.status, 404);
    assert.equal((missing.body as { error: { code: string } }).error.code, 'ROUTE_NOT_FOUND');
    const revoke = await s.call('DELETE', `/api/v1/keys/${UUID}`, { key: s.keys.admin });
    assert.equal(revoke.status, 404);
    assert.equal((revoke.body as { error: { code: string } }).error.code, 'NOT_FOUND');
  });

  it('makes a retried request with the same Idempotency-Key a no-op returning the first result', async () => {
    const before = await loginCount(tg);
    const json = { username: 'idem@example.com', success: true, ip: '9.9.9.9' };
    const headers = { 'idempotency-key': 'retry-1' };
    const first = await s.call('POST', '/api/v1/logins', { key: s.keys.ingest, json, headers });
    const second = await s.call('POST', '/api/v1/logins', { key: s.keys.ingest, json, headers });
    assert.equal(first.status, 201);
    assert.equal(second.status, 201);
    assert.deepEqual(second.body, first.body);
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
    assert.equal(await loginCount(tg), before + 1);
    const reused = await s.call('POST', '/api/v1/logins', {
      key: s.keys.ingest,
      json: { ...json, success: false },
      headers,
    });
    assert.equal(reused.status, 422);
    assert.equal((reused.body as { error: { code: string } }).error.code, 'IDEMPOTENCY_KEY_REUSED');
    // Keys are per caller: another key with the same Idempotency-Key runs for real.
    const other = await s.call('POST', '/api/v1/logins', { key: s.keys.admin, json, headers });
    assert.equal(other.status, 201);
    assert.notEqual((other.body as { id: string }).id, (first.body as { id: string }).id);
    assert.equal(await loginCount(tg), before + 2);
  });

  it('never takes the client IP or user agent from the request headers of an untrusted caller', async () => {
    const res = await s.call('POST', '/api/v1/logins', {
      key: s.keys.ingest,
      json: { username: 'spoof@example.com', success: false },
      headers: { 'x-forwarded-for': '6.6.6.6', 'user-agent': 'EvilBot/1.0' },
    });
    assert.equal(res.status, 201);
    const body = res.body as { ipAddress: string | null; userAgent: string | null };
    assert.equal(body.ipAddress, null);
    assert.equal(body.userAgent, null);
    const withBody = await s.call('POST', '/api/v1/logins', {
      key: s.keys.ingest,
      json: {
        username: 'spoof@example.com',
        success: false,
        ip: '81.2.69.160',
        userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X)',
      },
      headers: { 'x-forwarded-for': '6.6.6.6' },
    });
    const b = withBody.body as { ipAddress: string; deviceType: string };
    assert.equal(b.ipAddress, '81.2.69.160');
    assert.equal(b.deviceType, 'mobile');
  });

  it('gives an end user only their own last 50 logins through a viewer token', async () => {
    const logins = [
      ...Array.from({ length: 55 }, (_, i) => ({
        username: 'vera@example.com',
        userId: 'viewer-1',
        success: true,
        ip: '8.8.4.4',
        occurredAt: Date.UTC(2026, 0, 1, 0, i),
      })),
      { username: 'other@example.com', userId: 'viewer-2', success: true, ip: '1.1.1.1' },
    ];
    await s.call('POST', '/api/v1/logins', { key: s.keys.ingest, json: logins });
    const issued = await s.call('POST', '/api/v1/viewer-tokens', {
      key: s.keys.read,
      json: { userId: 'viewer-1', ttlSeconds: 300 },
    });
    assert.equal(issued.status, 201);
    const token = (issued.body as { token: string }).token;
    const mine = await s.call('GET', '/api/v1/me/logins', { key: token });
    assert.equal(mine.status, 200);
    const items = (mine.body as { items: { loginAt: string; ipAddress: string; username?: string }[] }).items;
    assert.equal(items.length, 50);
    assert.equal(items[0]?.loginAt, new Date(Date.UTC(2026, 0, 1, 0, 54)).toISOString());
    assert.ok(items.every((i) => i.ipAddress === '8.8.4.4'));
    assert.equal(items[0]?.username, undefined);
    // The token reaches nothing else, whatever the query says.
    assert.equal((await s.call('GET', '/api/v1/logins?userId=viewer-2', { key: token })).status, 403);
    assert.equal((await s.call('GET', '/api/v1/me/logins?userId=viewer-2', { key: token })).status, 200);
    const ingestCannot = await s.call('POST', '/api/v1/viewer-tokens', {
      key: s.keys.ingest,
      json: { userId: 'viewer-1' },
    });
    assert.equal(ingestCannot.status, 403);
  });

  it('serves dashboard metrics from the rollups', async () => {
    const now = tg.config.clock.now().getTime();
    await s.call('POST', '/api/v1/logins', {
      key: s.keys.ingest,
      json: Array.from({ length: 6 }, (_, i) => ({
        username: 'dash',
        success: false,
        ip: '203.0.113.9',
        occurredAt: now - 60_000 * (i + 1),
      })),
    });
    const res = await s.call('GET', '/api/v1/dashboard', { key: s.keys.read });
    assert.equal(res.status, 200);
    const d = res.body as {
      topFailingIps: { ip: string; count: number }[];
      successRate: { total: number };
      loginsPerHour: unknown[];
      deviceTypes: unknown[];
    };
    assert.deepEqual(
      d.topFailingIps.find((t) => t.ip === '203.0.113.9'),
      { ip: '203.0.113.9', count: 6 },
    );
    assert.ok(d.successRate.total >= 6);
    assert.ok(d.loginsPerHour.length > 0);
  });

  it('reports health, readiness and Prometheus metrics', async () => {
    assert.deepEqual((await s.call('GET', '/healthz')).body, { status: 'ok' });
    const ready = await s.call('GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, {
      status: 'ok',
      database: { status: 'ok', backend: backend },
      redis: { status: 'not_configured' },
    });
    const metrics = await s.call('GET', '/metrics', { key: s.keys.read });
    assert.equal(metrics.status, 200);
    const text = metrics.body as string;
    assert.match(text, /trailguard_logins_total\{outcome="success"\} \d+/);
    assert.match(text, /trailguard_group_commit_batch_rows_bucket\{le="1000",table="login_history"\} \d+/);
    // The deprecated name of the same histogram, kept for existing dashboards.
    assert.match(text, /trailguard_group_commit_batch_size_bucket\{le="1000",table="login_history"\} \d+/);
    assert.match(text, /trailguard_ingest_latency_seconds_count\{kind="logins_batch"\} \d+/);
    assert.match(
      text,
      /trailguard_http_requests_total\{method="POST",route="\/api\/v1\/logins",status="201"\}/,
    );
  });
});
