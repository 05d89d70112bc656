/**
 * trailguard/fastify hooks driven through a real Fastify app over HTTP: the preHandler guard refuses
 * with 429 + Retry-After in enforce mode and records attempts from the response; the onResponse hook
 * records 403s as permission_denied; a Trailguard fault fails open, or closed when asked.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { createTrailguard } from '../index.ts';
import type { Trailguard } from '../index.ts';
import { guard, permissionDenied, recordLogouts } from './fastify.ts';
import type { FastifyGuardOptions, FastifyGuardRequest } from './fastify.ts';
import type { GuardTarget } from './guard-core.ts';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

type Req = FastifyGuardRequest & { userId?: string; headers: Record<string, string | string[] | undefined> };

async function loginApp(
  tg: GuardTarget,
  handled: { count: number },
  extra: FastifyGuardOptions<Req> = {},
): Promise<{ app: FastifyInstance; base: string }> {
  const app = Fastify();
  app.addHook('onResponse', permissionDenied<Req>(tg, { userId: (r) => r.headers['x-user'] }));
  app.post(
    '/login',
    {
      preHandler: guard<Req>(tg, {
        record: { userId: (r) => r.userId, failureReason: () => 'invalid_password' },
        ...extra,
      }),
    },
    async (request, reply) => {
      handled.count++;
      const body = (request.body ?? {}) as { username?: unknown; password?: unknown };
      if (body.username === 'alice@example.com' && body.password === 'right') {
        (request as unknown as Req).userId = '42';
        return { ok: true };
      }
      return reply.code(401).send({ ok: false });
    },
  );
  app.post(
    '/logout',
    { preHandler: recordLogouts<Req>(tg, { userId: (r) => r.headers['x-user'] }) },
    async (_request, reply) => reply.code(204).send(),
  );
  app.get('/admin', async (_request, reply) => reply.code(403).send({ error: 'forbidden' }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address() as { port: number };
  return { app, base: `http://127.0.0.1:${addr.port}` };
}

const post = (base: string, path: string, body: unknown, ip = '198.51.100.1') =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
    body: JSON.stringify(body),
  });

describe('trailguard/fastify', () => {
  let tg: Trailguard;
  let server: { app: FastifyInstance; base: string };
  const handled = { count: 0 };
  before(async () => {
    tg = await createTrailguard({
      dataDir: 'memory://',
      logger: quiet,
      securityLog: { enabled: false },
      trustProxy: 'loopback',
      detection: { mode: 'enforce', bruteForce: { threshold: 3, windowSeconds: 600 } },
    });
    server = await loginApp(tg, handled);
  });
  after(async () => {
    await server.app.close();
    await tg.close();
  });

  it('records attempts from the response and refuses a flagged address before the handler', async () => {
    const { base } = server;
    assert.equal(
      (await post(base, '/login', { username: 'alice@example.com', password: 'right' })).status,
      200,
    );
    for (let i = 0; i < 3; i++)
      assert.equal((await post(base, '/login', { username: `u${i}@x.test` }, '203.0.113.5')).status, 401);
    await waitFor(async () => (await tg.logins.list({ ip: '203.0.113.5' })).items.length === 3);
    assert.equal((await tg.logins.lastLogin('42'))?.ipAddress, '198.51.100.1');
    const before = handled.count;
    const refused = await post(
      base,
      '/login',
      { username: 'alice@example.com', password: 'right' },
      '203.0.113.5',
    );
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'LOGIN_REFUSED');
    assert.equal(handled.count, before);
  });

  it('never crashes on a malformed username and records it as such', async () => {
    assert.equal((await post(server.base, '/login', { username: { $ne: 1 } }, '198.51.100.3')).status, 401);
    await waitFor(async () => (await tg.logins.list({ ip: '198.51.100.3' })).items.length === 1);
    assert.equal((await tg.logins.list({ ip: '198.51.100.3' })).items[0]?.username, '(malformed)');
  });

  it('records logouts and 403s', async () => {
    assert.equal(
      (await fetch(`${server.base}/logout`, { method: 'POST', headers: { 'x-user': '42' } })).status,
      204,
    );
    await waitFor(async () => (await tg.logins.lastLogin('42'))?.logoutAt != null);
    assert.equal((await fetch(`${server.base}/admin`, { headers: { 'x-user': '9' } })).status, 403);
    await waitFor(async () => (await tg.security.events({ type: 'permission_denied' })).items.length === 1);
    const ev = (await tg.security.events({ type: 'permission_denied' })).items[0];
    assert.equal(ev?.userId, '9');
    assert.equal(ev?.context['resource'], '/admin');
  });

  it('fails open on a Trailguard fault, and closed with 503 when asked', async () => {
    const down: GuardTarget = {
      logins: tg.logins,
      security: {
        check: () => Promise.reject(new Error('redis and database unreachable')),
        permissionDenied: tg.security.permissionDenied,
      },
    };
    const openCount = { count: 0 };
    const open = await loginApp(down, openCount);
    const closed = await loginApp(down, { count: 0 }, { failClosed: true });
    try {
      assert.equal(
        (await post(open.base, '/login', { username: 'alice@example.com', password: 'right' })).status,
        200,
      );
      assert.equal(openCount.count, 1);
      assert.equal((await post(closed.base, '/login', { username: 'alice@example.com' })).status, 503);
    } finally {
      await open.app.close();
      await closed.app.close();
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
