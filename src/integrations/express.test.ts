/**
 * trailguard/express guard, logout and permission-denied middleware, driven through a real Express
 * app over HTTP: refusals with Retry-After in enforce mode, attempts recorded from the response,
 * fail-open / fail-closed, and 403s recorded as permission_denied.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import { createTrailguard } from '../index.ts';
import type { Trailguard } from '../index.ts';
import { guard, permissionDenied, recordLogouts } from './express.ts';
import type { GuardTarget } from './guard-core.ts';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

async function listen(app: express.Express): Promise<{ base: string; close(): Promise<void> }> {
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

const post = (base: string, path: string, body: unknown, ip = '198.51.100.1') =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
    body: JSON.stringify(body),
  });

/** The login app under test: the handler has no Trailguard call in it. */
function loginApp(tg: GuardTarget, handled: { count: number }, extra: Parameters<typeof guard>[1] = {}) {
  const app = express();
  app.use(express.json());
  type Req = Request & { userId?: string };
  app.use(permissionDenied<Req>(tg, { userId: (req) => req.header('x-user') }));
  app.post(
    '/login',
    guard<Req>(tg, {
      record: { userId: (req) => req.userId, failureReason: (_req, res) => res.locals?.['loginFailure'] },
      ...extra,
    }),
    (req: Req, res: Response) => {
      handled.count++;
      const body = (req.body ?? {}) as { username?: unknown; password?: unknown };
      if (body.username === 'alice@example.com' && body.password === 'right') {
        req.userId = '42';
        res.json({ ok: true });
        return;
      }
      res.locals['loginFailure'] = 'invalid_password';
      res.status(401).json({ ok: false });
    },
  );
  app.post(
    '/logout',
    recordLogouts<Req>(tg, { userId: (req) => req.header('x-user') }),
    (_req, res) => void res.status(204).end(),
  );
  app.get('/admin', (_req, res) => void res.status(403).send('no'));
  app.delete('/invoices/:id', (_req, _res, next: NextFunction) =>
    next(Object.assign(new Error('forbidden'), { status: 403 })),
  );
  return app;
}

describe('trailguard/express', () => {
  let tg: Trailguard;
  let app: { base: string; close(): Promise<void> };
  const handled = { count: 0 };
  before(async () => {
    tg = await createTrailguard({
      dataDir: 'memory://',
      logger: quiet,
      securityLog: { enabled: false },
      trustProxy: 'loopback',
      detection: { mode: 'enforce', bruteForce: { threshold: 3, windowSeconds: 600 } },
    });
    app = await listen(loginApp(tg, handled));
  });
  after(async () => {
    await app.close();
    await tg.close();
  });

  it('records failures and a success from the response, with no call in the handler', async () => {
    assert.equal(
      (await post(app.base, '/login', { username: 'alice@example.com', password: 'x' })).status,
      401,
    );
    assert.equal(
      (await post(app.base, '/login', { username: 'alice@example.com', password: 'right' })).status,
      200,
    );
    await waitFor(async () => (await tg.logins.list({ ip: '198.51.100.1' })).items.length === 2);
    const [ok, failed] = (await tg.logins.list({ ip: '198.51.100.1' })).items;
    assert.equal(ok?.success, true);
    assert.equal(ok?.userId, '42');
    assert.equal(failed?.success, false);
    assert.equal(failed?.failureReason, 'invalid_password');
    assert.equal(failed?.username, 'alice@example.com');
  });

  it('refuses a flagged address with 429 and Retry-After before the handler runs', async () => {
    for (let i = 0; i < 3; i++)
      assert.equal((await post(app.base, '/login', { username: `u${i}@x.test` }, '203.0.113.5')).status, 401);
    await waitFor(async () => (await tg.logins.list({ ip: '203.0.113.5' })).items.length === 3);
    const before = handled.count;
    const refused = await post(
      app.base,
      '/login',
      { username: 'alice@example.com', password: 'right' },
      '203.0.113.5',
    );
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'LOGIN_REFUSED');
    assert.equal(handled.count, before, 'the login handler did not run');
    // Another address is not affected.
    assert.equal(
      (await post(app.base, '/login', { username: 'alice@example.com', password: 'right' }, '198.51.100.2'))
        .status,
      200,
    );
  });

  it('never crashes on a missing or malformed username; records it as such', async () => {
    assert.equal((await post(app.base, '/login', { username: ['a', 'b'] }, '198.51.100.3')).status, 401);
    assert.equal((await post(app.base, '/login', {}, '198.51.100.3')).status, 401);
    const raw = await fetch(`${app.base}/login`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'x-forwarded-for': '198.51.100.3' },
      body: 'not json',
    });
    assert.equal(raw.status, 401);
    await waitFor(async () => (await tg.logins.list({ ip: '198.51.100.3' })).items.length === 3);
    const names = (await tg.logins.list({ ip: '198.51.100.3' })).items.map((r) => r.username).sort();
    assert.deepEqual(names, ['(malformed)', '(missing)', '(missing)']);
  });

  it('records a logout through the logout middleware', async () => {
    const res = await fetch(`${app.base}/logout`, { method: 'POST', headers: { 'x-user': '42' } });
    assert.equal(res.status, 204);
    await waitFor(async () => (await tg.logins.lastLogin('42'))?.logoutAt != null);
  });

  it('records permission_denied for a 403 answered directly and for an error with status 403', async () => {
    assert.equal((await fetch(`${app.base}/admin?x=1`, { headers: { 'x-user': '7' } })).status, 403);
    assert.equal((await fetch(`${app.base}/invoices/9`, { method: 'DELETE' })).status, 403);
    await waitFor(async () => (await tg.security.events({ type: 'permission_denied' })).items.length === 2);
    const events = (await tg.security.events({ type: 'permission_denied' })).items;
    const byUser = new Map(events.map((e) => [e.userId, e]));
    assert.equal(byUser.get('7')?.context['resource'], '/admin');
    assert.equal(byUser.get('7')?.context['action'], 'GET');
    assert.equal(byUser.get('anonymous')?.context['resource'], '/invoices/9');
    assert.equal(byUser.get('anonymous')?.category, 'authorization');
  });

  it('lets the request through when Trailguard cannot answer, and refuses with 503 when failClosed', async () => {
    const down: GuardTarget = {
      logins: tg.logins,
      security: {
        check: () =>
          Promise.reject(Object.assign(new Error('database unavailable'), { code: 'DB_UNAVAILABLE' })),
        permissionDenied: tg.security.permissionDenied,
      },
    };
    const errors: unknown[] = [];
    const openCount = { count: 0 };
    const open = await listen(loginApp(down, openCount, { onError: (e) => errors.push(e) }));
    const closedCount = { count: 0 };
    const closed = await listen(loginApp(down, closedCount, { failClosed: true }));
    try {
      assert.equal(
        (await post(open.base, '/login', { username: 'alice@example.com', password: 'right' })).status,
        200,
      );
      assert.equal(openCount.count, 1);
      assert.equal(errors.length, 1);
      const r = await post(closed.base, '/login', { username: 'alice@example.com', password: 'right' });
      assert.equal(r.status, 503);
      assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'LOGIN_UNAVAILABLE');
      assert.equal(closedCount.count, 0);
    } finally {
      await open.close();
      await closed.close();
    }
  });
});

/** Recording happens after the response is sent: poll until it is committed. */
async function waitFor(cond: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out waiting for the record');
    await new Promise((r) => setTimeout(r, 20));
  }
}
