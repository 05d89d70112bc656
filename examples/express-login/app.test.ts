// Drives the example Express app over real HTTP, through the built package as a user imports it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createTrailguard } from 'trailguard';
import type { Trailguard } from 'trailguard';
// @ts-expect-error -- plain JavaScript example without type declarations
import { createApp, createUsers } from './app.mjs';

describe('example: Express login app', () => {
  let tg: Trailguard;
  let server: Server;
  let base: string;

  before(async () => {
    tg = await createTrailguard({
      dataDir: 'memory://',
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      securityLog: { enabled: false },
      detection: { mode: 'enforce', bruteForce: { threshold: 5, windowSeconds: 900 } },
    });
    const users = createUsers([{ id: '42', email: 'alice@example.com', password: 'right-password' }]);
    server = (createApp({ tg, users }) as { listen(port: number, host: string): Server }).listen(
      0,
      '127.0.0.1',
    );
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await tg.close();
  });

  const form = (fields: Record<string, string>) => ({
    method: 'POST',
    redirect: 'manual' as const,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'user-agent':
        'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
      'x-forwarded-for': '8.8.8.8',
    },
    body: new URLSearchParams(fields).toString(),
  });

  it('records a wrong password against the account and an unknown user without one', async () => {
    assert.equal(
      (await fetch(`${base}/login`, form({ email: 'alice@example.com', password: 'nope' }))).status,
      401,
    );
    assert.equal(
      (await fetch(`${base}/login`, form({ email: 'mallory@example.com', password: 'x' }))).status,
      401,
    );
    // Attempts are recorded once the response is sent: wait for both rows.
    await waitFor(async () => (await tg.logins.failed({ hours: 1 })).length === 2);
    const failed = await tg.logins.failed({ hours: 1 });
    const byUser = new Map(failed.map((f) => [f.username, f]));
    assert.equal(byUser.get('alice@example.com')?.userId, '42');
    assert.equal(byUser.get('alice@example.com')?.failureReason, 'invalid_password');
    assert.equal(byUser.get('mallory@example.com')?.userId, null);
    assert.equal(byUser.get('mallory@example.com')?.failureReason, 'unknown_user');
    // The spoofed X-Forwarded-For is ignored: the app does not trust any proxy.
    assert.equal(byUser.get('alice@example.com')?.ipAddress, '127.0.0.1');
  });

  it('records a successful login with the device, and the logout closes that session', async () => {
    const login = await fetch(
      `${base}/login`,
      form({ email: 'alice@example.com', password: 'right-password' }),
    );
    assert.equal(login.status, 303);
    const cookie = login.headers.get('set-cookie')?.split(';')[0] ?? '';
    assert.match(cookie, /^connect\.sid=/);
    await waitFor(async () => (await tg.logins.lastLogin('42')) !== null);
    const mine = (await (await fetch(`${base}/me/logins`, { headers: { cookie } })).json()) as {
      success: boolean;
      deviceType: string;
    }[];
    assert.equal(mine[0]?.success, true);
    assert.equal(mine[0]?.deviceType, 'mobile');

    const logout = await fetch(`${base}/logout`, { method: 'POST', redirect: 'manual', headers: { cookie } });
    assert.equal(logout.status, 303);
    await waitFor(async () => (await tg.logins.lastLogin('42'))?.logoutAt != null);
    const last = await tg.logins.lastLogin('42');
    assert.ok(last?.logoutAt, 'logout time recorded');
    assert.ok((last?.sessionDurationSeconds ?? -1) >= 0);
    assert.equal(last?.browser, 'Mobile Safari');
  });

  it('records a 403 as permission_denied', async () => {
    assert.equal((await fetch(`${base}/admin`)).status, 403);
    await waitFor(async () => (await tg.security.events({ type: 'permission_denied' })).items.length === 1);
    const ev = (await tg.security.events({ type: 'permission_denied' })).items[0];
    assert.equal(ev?.context['resource'], '/admin');
  });

  it('refuses sign-ins from an address with too many failures, before checking the password', async () => {
    // Two failures so far from this address; three more reach the threshold of five.
    for (let i = 0; i < 3; i++)
      assert.equal(
        (await fetch(`${base}/login`, form({ email: `x${i}@example.com`, password: 'x' }))).status,
        401,
      );
    await waitFor(async () => (await tg.logins.failed({ hours: 1 })).length === 5);
    const refused = await fetch(
      `${base}/login`,
      form({ email: 'alice@example.com', password: 'right-password' }),
    );
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
  });
});

async function waitFor(cond: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out waiting for the record');
    await new Promise((r) => setTimeout(r, 20));
  }
}
