import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { REDIS_SKIP, TEST_REDIS_URL, forEachBackend, openTrailguard } from '../helpers/backends.ts';
import type { Trailguard } from '../../src/index.ts';
import { startServer } from './helpers.ts';
import type { TestServer } from './helpers.ts';

function cookieOf(headers: Headers): string {
  const raw = headers.get('set-cookie') ?? '';
  return raw.split(';')[0] ?? '';
}

forEachBackend('admin sessions over HTTP', (backend) => {
  let tg: Trailguard;
  let s: TestServer;
  const password = 'correct horse battery staple';

  before(async () => {
    tg = await openTrailguard(backend, { trustProxy: 'loopback' });
    s = await startServer(tg, { rateLimit: false, lockout: { threshold: 5, windowMs: 15 * 60_000 } });
    await s.auth.users.create({ username: 'root', password });
    await s.auth.users.create({ username: 'ops', password });
  });
  after(async () => {
    await s?.close();
    await tg?.close();
  });

  it('signs in with a HttpOnly SameSite=Strict cookie and records the sign-in in its own login history', async () => {
    const res = await s.call('POST', '/api/v1/auth/login', {
      json: { username: 'root', password },
      headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0' },
    });
    assert.equal(res.status, 200);
    const setCookie = res.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /^tg_session=tgs_/);
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    assert.doesNotMatch(setCookie, /Secure/); // plain HTTP here; Secure is set behind TLS
    const page = await tg.logins.list({ username: 'root', success: true });
    assert.equal(page.items.length, 1);
    assert.equal(page.items[0]?.ipAddress, '127.0.0.1');
    assert.equal(page.items[0]?.browser, 'Firefox');
    assert.equal(page.items[0]?.metadata['source'], 'trailguard-admin');
  });

  it('requires the CSRF token on state-changing requests made with the cookie', async () => {
    const login = await s.call('POST', '/api/v1/auth/login', { json: { username: 'ops', password } });
    const cookie = cookieOf(login.headers);
    const csrf = (login.body as { csrfToken: string }).csrfToken;
    const read = await s.call('GET', '/api/v1/keys', { headers: { cookie } });
    assert.equal(read.status, 200);
    const noToken = await s.call('POST', '/api/v1/keys', {
      headers: { cookie },
      json: { name: 'ui', scope: 'read' },
    });
    assert.equal(noToken.status, 403);
    assert.equal((noToken.body as { error: { code: string } }).error.code, 'CSRF_FAILED');
    const wrong = await s.call('POST', '/api/v1/keys', {
      headers: { cookie, 'x-csrf-token': 'x'.repeat(43) },
      json: { name: 'ui', scope: 'read' },
    });
    assert.equal(wrong.status, 403);
    const ok = await s.call('POST', '/api/v1/keys', {
      headers: { cookie, 'x-csrf-token': csrf },
      json: { name: 'ui', scope: 'read' },
    });
    assert.equal(ok.status, 201);
    const session = await s.call('GET', '/api/v1/auth/session', { headers: { cookie } });
    assert.deepEqual((session.body as { csrfToken: string }).csrfToken, csrf);
    const out = await s.call('POST', '/api/v1/auth/logout', { headers: { cookie, 'x-csrf-token': csrf } });
    assert.equal(out.status, 204);
    assert.equal((await s.call('GET', '/api/v1/keys', { headers: { cookie } })).status, 401);
  });

  it('answers a wrong password and an unknown user the same way, and records both', async () => {
    const wrong = await s.call('POST', '/api/v1/auth/login', {
      json: { username: 'root', password: 'not it at all' },
    });
    const unknown = await s.call('POST', '/api/v1/auth/login', {
      json: { username: 'ghost', password: 'not it at all' },
    });
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.body, unknown.body);
    assert.equal((wrong.body as { error: { code: string } }).error.code, 'INVALID_CREDENTIALS');
    const failed = await tg.logins.failed({ username: 'ghost', hours: 1 });
    assert.equal(failed.length, 1);
    assert.equal(failed[0]?.failureReason, 'invalid_credentials');
  });

  it('locks an address out after repeated failures, even with the right password', async () => {
    // A trusted proxy (loopback) forwards the attacker's address.
    const headers = { 'x-forwarded-for': '198.51.100.23' };
    for (let i = 0; i < 5; i++) {
      const r = await s.call('POST', '/api/v1/auth/login', {
        json: { username: `guess${i}`, password: 'wrong-password' },
        headers,
      });
      assert.equal(r.status, 401);
    }
    const locked = await s.call('POST', '/api/v1/auth/login', {
      json: { username: 'root', password },
      headers,
    });
    assert.equal(locked.status, 429);
    assert.equal((locked.body as { error: { code: string } }).error.code, 'ACCOUNT_LOCKED');
    assert.equal(locked.headers.get('set-cookie'), null);
    // Another address is not affected.
    const other = await s.call('POST', '/api/v1/auth/login', {
      json: { username: 'root', password },
      headers: { 'x-forwarded-for': '198.51.100.24' },
    });
    assert.equal(other.status, 200);
  });

  it('runs its own sign-ins through detection: security events, a lock event and a generic refusal', async () => {
    const headers = { 'x-forwarded-for': '198.51.100.40' };
    for (let i = 0; i < 5; i++)
      await s.call('POST', '/api/v1/auth/login', {
        json: { username: 'root', password: `wrong-${i}` },
        headers,
      });
    const events = await tg.security.events({ ip: '198.51.100.40' });
    const types = events.items.map((e) => e.type);
    assert.equal(types.filter((t) => t === 'login_failed').length, 5);
    assert.ok(types.includes('suspicious_activity'), types.join());
    const locked = events.items.find((e) => e.type === 'account_locked');
    assert.equal(locked?.context['source'], 'trailguard-admin');
    assert.deepEqual(locked?.context['patterns'], ['brute_force']);
    const refused = await s.call('POST', '/api/v1/auth/login', {
      json: { username: 'root', password },
      headers,
    });
    assert.equal(refused.status, 429);
    assert.deepEqual(refused.body, {
      error: { code: 'ACCOUNT_LOCKED', message: 'too many failed sign-ins; try again later' },
    });
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
    // An admin lifts the lockout; the next sign-in with the right password goes through.
    const reset = await s.call('POST', '/api/v1/security/reset', {
      key: s.keys.admin,
      json: { ip: '198.51.100.40', username: 'root' },
    });
    assert.equal(reset.status, 200);
    const ok = await s.call('POST', '/api/v1/auth/login', { json: { username: 'root', password }, headers });
    assert.equal(ok.status, 200);
  });

  it('does not let ingested failures for an admin account or address lock the admin sign-in', async () => {
    // An ingest key chooses username and address freely: ten failures for 'ops' from ten addresses
    // (distributed_attack) and five from the admin's own address (brute_force).
    const adminIp = '198.51.100.77';
    const events = Array.from({ length: 10 }, (_, i) => ({
      type: 'login_failed',
      username: 'ops',
      ip: `203.0.113.${i + 1}`,
    }));
    const ingested = await s.call('POST', '/api/v1/security-events', { key: s.keys.ingest, json: events });
    assert.equal(ingested.status, 201);
    const logins = Array.from({ length: 5 }, (_, i) => ({
      username: `ops-${i}`,
      success: false,
      ip: adminIp,
    }));
    assert.equal((await s.call('POST', '/api/v1/logins', { key: s.keys.ingest, json: logins })).status, 201);
    const check = await tg.security.check({ ip: adminIp, username: 'ops' });
    assert.ok(check.reasons.includes('distributed_attack') && check.reasons.includes('brute_force'));
    const res = await s.call('POST', '/api/v1/auth/login', {
      json: { username: 'ops', password },
      headers: { 'x-forwarded-for': adminIp },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });

  it('takes the client IP from X-Forwarded-For only when the peer is a trusted proxy', async () => {
    const res = await s.call('POST', '/api/v1/logins', {
      key: s.keys.ingest,
      json: { username: 'proxied@example.com', success: true },
      headers: { 'x-forwarded-for': '81.2.69.160', 'user-agent': 'curl/8.5.0' },
    });
    const body = res.body as { ipAddress: string; userAgent: string; country: string | null };
    assert.equal(body.ipAddress, '81.2.69.160');
    assert.equal(body.userAgent, 'curl/8.5.0');
  });

  it('ends the sessions of a disabled user and refuses to disable the last admin', async () => {
    const login = await s.call('POST', '/api/v1/auth/login', {
      json: { username: 'ops', password },
      headers: { 'x-forwarded-for': '192.0.2.77' },
    });
    const cookie = cookieOf(login.headers);
    const users = await s.auth.users.list();
    const ops = users.find((u) => u.username === 'ops');
    assert.ok(ops);
    const res = await s.call('DELETE', `/api/v1/users/${ops.id}`, { key: s.keys.admin });
    assert.equal(res.status, 200);
    assert.equal((await s.call('GET', '/api/v1/keys', { headers: { cookie } })).status, 401);
    const root = users.find((u) => u.username === 'root');
    assert.ok(root);
    const last = await s.call('DELETE', `/api/v1/users/${root.id}`, { key: s.keys.admin });
    assert.equal(last.status, 409);
    assert.equal((last.body as { error: { code: string } }).error.code, 'LAST_ADMIN');
  });
});

forEachBackend('admin sign-in lockout with detection turned off', (backend) => {
  let tg: Trailguard;
  let s: TestServer;
  const password = 'correct horse battery staple';
  before(async () => {
    tg = await openTrailguard(backend, { detection: { enabled: false } });
    s = await startServer(tg, { rateLimit: false, lockout: { threshold: 3, windowMs: 15 * 60_000 } });
    await s.auth.users.create({ username: 'root', password });
  });
  after(async () => {
    await s?.close();
    await tg?.close();
  });

  it('counts its own failed sign-ins against the lockout threshold instead', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await s.call('POST', '/api/v1/auth/login', {
        json: { username: 'root', password: 'nope-nope' },
      });
      assert.equal(r.status, 401);
    }
    const locked = await s.call('POST', '/api/v1/auth/login', { json: { username: 'root', password } });
    assert.equal(locked.status, 429);
    assert.equal((locked.body as { error: { code: string } }).error.code, 'ACCOUNT_LOCKED');
  });
});

describe('admin sign-in lockout on Redis', { skip: REDIS_SKIP }, () => {
  const prefix = `tgtest:${randomBytes(4).toString('hex')}:`;
  let tg: Trailguard;
  let s: TestServer;
  const password = 'correct horse battery staple';
  before(async () => {
    tg = await openTrailguard('pglite', {
      trustProxy: 'loopback',
      redisUrl: TEST_REDIS_URL,
      detection: { keyPrefix: prefix },
    });
    s = await startServer(tg, { rateLimit: false });
    await s.auth.users.create({ username: 'root', password });
  });
  after(async () => {
    await s?.close();
    await tg?.close();
    const redis = new Redis(TEST_REDIS_URL as string);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it("keeps the sign-in's counters in Redis under <keyPrefix>admin:, apart from the application's", async () => {
    const headers = { 'x-forwarded-for': '198.51.100.90' };
    for (let i = 0; i < 5; i++)
      await s.call('POST', '/api/v1/auth/login', {
        json: { username: `guess${i}`, password: 'nope-nope' },
        headers,
      });
    const locked = await s.call('POST', '/api/v1/auth/login', {
      json: { username: 'root', password },
      headers,
    });
    assert.equal(locked.status, 429);
    const redis = new Redis(TEST_REDIS_URL as string);
    try {
      const keys = await redis.keys(`${prefix}admin:*`);
      assert.ok(keys.length > 0, 'admin sign-in keys in Redis');
    } finally {
      redis.disconnect();
    }
    const reset = await s.call('POST', '/api/v1/security/reset', {
      key: s.keys.admin,
      json: { ip: '198.51.100.90' },
    });
    assert.equal(reset.status, 200);
    const ok = await s.call('POST', '/api/v1/auth/login', { json: { username: 'root', password }, headers });
    assert.equal(ok.status, 200);
  });
});
