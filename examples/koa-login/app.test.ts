// Drives the example Koa API over real HTTP, through the built package as a user imports it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTrailguard } from 'trailguard';
import type { Trailguard } from 'trailguard';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
// @ts-expect-error -- plain JavaScript example without type declarations
import { createApp, createUsers } from './app.mjs';

interface App {
  listen(port: number, host: string): Server;
}

describe('example: Koa login API', () => {
  let tg: Trailguard;
  let server: Server;
  let base: string;
  before(async () => {
    tg = await createTrailguard({
      dataDir: 'memory://',
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      securityLog: { enabled: false },
      detection: { mode: 'enforce', bruteForce: { threshold: 3, windowSeconds: 900 } },
    });
    const app = createApp({
      tg,
      users: createUsers([{ id: '1', email: 'alice@example.com', password: 'pw-right' }]),
    }) as App;
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await tg.close();
  });

  const login = (email: string, password: string) =>
    fetch(`${base}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });

  it('records a success and failures, then refuses the address with 429', async () => {
    assert.equal((await login('alice@example.com', 'pw-right')).status, 200);
    assert.equal((await login('alice@example.com', 'nope')).status, 401);
    assert.equal((await login('mallory@example.com', 'x')).status, 401);
    assert.equal((await login('eve@example.com', 'x')).status, 401);
    await waitFor(async () => (await tg.logins.list({ limit: 10 })).items.length === 4);
    const failed = new Map((await tg.logins.failed({ hours: 1 })).map((f) => [f.username, f]));
    assert.equal(failed.get('alice@example.com')?.userId, '1');
    assert.equal(failed.get('alice@example.com')?.failureReason, 'invalid_password');
    assert.equal(failed.get('mallory@example.com')?.failureReason, 'unknown_user');
    assert.equal((await tg.logins.lastLogin('1'))?.success, true);
    const refused = await login('alice@example.com', 'pw-right');
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
  });

  it('records a 403 as permission_denied', async () => {
    assert.equal((await fetch(`${base}/admin`, { headers: { 'x-user-id': '2' } })).status, 403);
    await waitFor(async () => (await tg.security.events({ type: 'permission_denied' })).items.length === 1);
    assert.equal((await tg.security.events({ type: 'permission_denied' })).items[0]?.userId, '2');
  });
});

async function waitFor(cond: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out waiting for the record');
    await new Promise((r) => setTimeout(r, 20));
  }
}
