/**
 * security.check() given a request, and the exported clientIp(): both resolve the address the way a
 * stored login does (trusted proxies only), so an app that enforces agrees with its own history.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { clientIp, createTrailguard } from '../index.ts';
import type { Trailguard } from '../index.ts';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** A real HTTP server that hands each request to `handle` and answers with its JSON result. */
async function serve(handle: (req: IncomingMessage) => Promise<unknown>) {
  const server: Server = createServer((req, res) => {
    handle(req).then(
      (v) => res.end(JSON.stringify(v)),
      (e: { code?: string; field?: string }) => {
        res.statusCode = 400;
        res.end(JSON.stringify({ code: e.code, field: e.field }));
      },
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    get: async (xff?: string) =>
      (await fetch(base, { headers: xff ? { 'x-forwarded-for': xff } : {} })).json() as Promise<
        Record<string, unknown>
      >,
    close: () => new Promise((r) => server.close(r)),
  };
}

describe('security.check({ request }) and clientIp()', () => {
  let tg: Trailguard;
  before(async () => {
    tg = await createTrailguard({
      dataDir: 'memory://',
      logger: quiet,
      securityLog: { enabled: false },
      trustProxy: 'loopback',
      detection: { mode: 'enforce', bruteForce: { threshold: 3, windowSeconds: 600 } },
    });
    for (let i = 0; i < 3; i++)
      await tg.logins.record({ username: `u${i}@example.com`, success: false, ip: '203.0.113.9' });
  });
  after(() => tg.close());

  it('refuses the forwarded client of a trusted proxy and agrees with clientIp()', async () => {
    const s = await serve(async (req) => ({
      check: await tg.security.check({ request: req }),
      ip: clientIp(req, tg.config.trustProxy),
      untrusted: clientIp(req, false),
    }));
    try {
      const flagged = await s.get('203.0.113.9');
      assert.equal((flagged['check'] as { allowed: boolean }).allowed, false);
      assert.ok(((flagged['check'] as { retryAfterSeconds: number }).retryAfterSeconds ?? 0) > 0);
      assert.equal(flagged['ip'], '203.0.113.9');
      // With no trusted proxy the header is ignored: the socket address is the client.
      assert.equal(flagged['untrusted'], '127.0.0.1');
      const other = await s.get('198.51.100.20');
      assert.equal((other['check'] as { allowed: boolean }).allowed, true);
      assert.equal(other['ip'], '198.51.100.20');
    } finally {
      await s.close();
    }
  });

  it('rejects a request that is not one, and unknown keys, naming the field', async () => {
    await assert.rejects(
      tg.security.check({ request: 'nope' as never }),
      (e: { code?: string; field?: string }) => e.code === 'VALIDATION_FAILED' && e.field === 'request',
    );
    await assert.rejects(
      tg.security.check({ ip: '203.0.113.9', req: {} } as never),
      (e: { code?: string; field?: string }) => e.code === 'VALIDATION_FAILED' && e.field === 'req',
    );
    assert.throws(
      () => clientIp(null as never),
      (e: { code?: string; field?: string }) => e.field === 'request',
    );
  });
});
