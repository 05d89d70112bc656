import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { REDIS_SKIP, TEST_REDIS_URL, openTrailguard } from '../helpers/backends.ts';
import type { Trailguard } from '../../src/index.ts';
import { startServer } from './helpers.ts';
import type { TestServer } from './helpers.ts';

const runId = randomBytes(4).toString('hex');
const PREFIX = `tgtest:${runId}:rl:`;

function suite(title: string, skip: string | false, redisUrl: () => string | undefined) {
  describe(title, { skip }, () => {
    let tg: Trailguard;
    let s: TestServer;
    before(async () => {
      tg = await openTrailguard('pglite');
      s = await startServer(tg, {
        rateLimit: { perKey: 5, perIp: 3, redisPrefix: PREFIX },
        redisUrl: redisUrl(),
      });
      // Until Redis is connected, requests are let through uncounted (never blocked by a Redis outage).
      for (let i = 0; i < 50 && redisUrl(); i++) {
        const ready = await s.call('GET', '/readyz');
        if ((ready.body as { redis: { status: string } }).redis.status === 'ok') break;
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    after(async () => {
      await s?.close();
      await tg?.close();
    });

    it('limits each API key separately and answers 429 RATE_LIMITED with Retry-After', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++)
        statuses.push((await s.call('GET', '/api/v1/logins', { key: s.keys.read })).status);
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429]);
      const res = await s.call('GET', '/api/v1/logins', { key: s.keys.read });
      assert.equal((res.body as { error: { code: string } }).error.code, 'RATE_LIMITED');
      assert.ok(Number(res.headers.get('retry-after')) > 0);
      // Another key has its own budget.
      assert.equal((await s.call('GET', '/api/v1/logins', { key: s.keys.admin })).status, 200);
    });

    it('limits requests without credentials per client address, and never health checks', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++)
        statuses.push(
          (
            await s.call('POST', '/api/v1/auth/login', {
              json: { username: 'x', password: 'wrong-password' },
            })
          ).status,
        );
      assert.deepEqual(statuses.slice(3), [429, 429]);
      for (let i = 0; i < 6; i++) assert.equal((await s.call('GET', '/healthz')).status, 200);
    });

    // Last in the suite: it leaves this address over its budget for the rest of the minute.
    it('limits requests to protected routes with no or wrong credentials per address, before any lookup', async () => {
      const lookups = { keys: 0, sessions: 0 };
      const keys = s.auth.apiKeys.authenticate.bind(s.auth.apiKeys);
      const sessions = s.auth.sessions.authenticate.bind(s.auth.sessions);
      s.auth.apiKeys.authenticate = (token) => (lookups.keys++, keys(token));
      s.auth.sessions.authenticate = (key) => (lookups.sessions++, sessions(key));
      const statuses: number[] = [];
      const attempts: { key?: string; headers?: Record<string, string> }[] = [
        {},
        { key: 'tg_admin_guess1' },
        { headers: { cookie: 'tg_session=tgs_guess1' } },
        { key: 'tg_admin_guess2' },
        { headers: { cookie: 'tg_session=tgs_guess2' } },
        {},
      ];
      for (const a of attempts) statuses.push((await s.call('GET', '/api/v1/keys', a)).status);
      assert.deepEqual(statuses, [401, 401, 401, 429, 429, 429]);
      const res = await s.call('GET', '/api/v1/logins', { key: 'tg_read_guess3' });
      assert.equal(res.status, 429);
      assert.equal((res.body as { error: { code: string } }).error.code, 'RATE_LIMITED');
      assert.ok(Number(res.headers.get('retry-after')) > 0);
      // Refused before the credentials are looked up: only the first guesses reached the database.
      assert.deepEqual(lookups, { keys: 1, sessions: 1 });
    });
  });
}

suite('rate limits (in-process)', false, () => undefined);

suite('rate limits (Redis)', REDIS_SKIP, () => TEST_REDIS_URL);
after(async () => {
  if (!TEST_REDIS_URL) return;
  // Only this run's keys (unique prefix); other suites share the Redis server.
  const redis = new Redis(TEST_REDIS_URL);
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});
