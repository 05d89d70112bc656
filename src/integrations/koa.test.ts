/**
 * trailguard/koa middleware driven through a real Koa app over HTTP: refusal with 429 + Retry-After
 * in enforce mode, attempts (including thrown 401s) recorded from the response, logouts, 403s as
 * permission_denied, fail-open and fail-closed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import Koa from 'koa';
import { bodyParser } from '@koa/bodyparser';
import { createTrailguard } from '../index.ts';
import type { Trailguard } from '../index.ts';
import { guard, permissionDenied, recordLogouts } from './koa.ts';
import type { KoaGuardOptions } from './koa.ts';
import type { GuardTarget } from './guard-core.ts';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
type Ctx = Koa.ParameterizedContext<{ userId?: string }>;

async function loginApp(tg: GuardTarget, handled: { count: number }, extra: KoaGuardOptions<Ctx> = {}) {
  const app = new Koa();
  app.silent = true;
  app.use(bodyParser());
  app.use(permissionDenied<Ctx>(tg, { userId: (ctx) => ctx.get('x-user') || undefined }));
  const login = guard<Ctx>(tg, { record: { userId: (ctx) => ctx.state.userId }, ...extra });
  const logout = recordLogouts<Ctx>(tg, { userId: (ctx) => ctx.get('x-user') || undefined });
  app.use(async (ctx, next) => {
    if (ctx.method === 'POST' && ctx.path === '/login')
      return login(ctx, async () => {
        handled.count++;
        const body = (ctx.request.body ?? {}) as { username?: unknown; password?: unknown };
        if (body.username !== 'alice@example.com' || body.password !== 'right') ctx.throw(401, 'invalid');
        ctx.state.userId = '42';
        ctx.body = { ok: true };
      });
    if (ctx.method === 'POST' && ctx.path === '/logout')
      return logout(ctx, async () => {
        ctx.status = 204;
      });
    if (ctx.path === '/admin') ctx.throw(403, 'forbidden');
    return next();
  });
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const post = (base: string, path: string, body: unknown, ip = '198.51.100.1') =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
    body: JSON.stringify(body),
  });

describe('trailguard/koa', () => {
  let tg: Trailguard;
  let app: Awaited<ReturnType<typeof loginApp>>;
  const handled = { count: 0 };
  before(async () => {
    tg = await createTrailguard({
      dataDir: 'memory://',
      logger: quiet,
      securityLog: { enabled: false },
      trustProxy: 'loopback',
      detection: { mode: 'enforce', bruteForce: { threshold: 3, windowSeconds: 600 } },
    });
    app = await loginApp(tg, handled);
  });
  after(async () => {
    await app.close();
    await tg.close();
  });

  it('records attempts, including thrown 401s, and refuses a flagged address before the handler', async () => {
    assert.equal(
      (await post(app.base, '/login', { username: 'alice@example.com', password: 'right' })).status,
      200,
    );
    for (let i = 0; i < 3; i++)
      assert.equal((await post(app.base, '/login', { email: `u${i}@x.test` }, '203.0.113.5')).status, 401);
    await waitFor(async () => (await tg.logins.list({ ip: '203.0.113.5' })).items.length === 3);
    const failed = (await tg.logins.list({ ip: '203.0.113.5' })).items;
    assert.deepEqual(
      failed.map((f) => f.failureReason),
      ['invalid_credentials', 'invalid_credentials', 'invalid_credentials'],
    );
    assert.equal((await tg.logins.lastLogin('42'))?.success, true);
    const before = handled.count;
    const refused = await post(
      app.base,
      '/login',
      { username: 'alice@example.com', password: 'right' },
      '203.0.113.5',
    );
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
    assert.equal(handled.count, before);
  });

  it('records a malformed username as such, a logout, and a thrown 403', async () => {
    assert.equal((await post(app.base, '/login', { username: 12 }, '198.51.100.3')).status, 401);
    await waitFor(async () => (await tg.logins.list({ ip: '198.51.100.3' })).items.length === 1);
    assert.equal((await tg.logins.list({ ip: '198.51.100.3' })).items[0]?.username, '(malformed)');
    assert.equal(
      (await fetch(`${app.base}/logout`, { method: 'POST', headers: { 'x-user': '42' } })).status,
      204,
    );
    await waitFor(async () => (await tg.logins.lastLogin('42'))?.logoutAt != null);
    assert.equal((await fetch(`${app.base}/admin`, { headers: { 'x-user': '5' } })).status, 403);
    await waitFor(async () => (await tg.security.events({ type: 'permission_denied' })).items.length === 1);
    assert.equal((await tg.security.events({ type: 'permission_denied' })).items[0]?.userId, '5');
  });

  it('fails open on a Trailguard fault, and closed with 503 when asked', async () => {
    const down: GuardTarget = {
      logins: tg.logins,
      security: {
        check: () => Promise.reject(new Error('unreachable')),
        permissionDenied: tg.security.permissionDenied,
      },
    };
    const open = await loginApp(down, { count: 0 });
    const closed = await loginApp(down, { count: 0 }, { failClosed: true });
    try {
      assert.equal(
        (await post(open.base, '/login', { username: 'alice@example.com', password: 'right' })).status,
        200,
      );
      assert.equal((await post(closed.base, '/login', { username: 'alice@example.com' })).status, 503);
    } finally {
      await open.close();
      await closed.close();
    }
  });
});

async function waitFor(cond: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out waiting for the record');
    await new Promise((r) => setTimeout(r, 20));
  }
}
