// The built package, imported the way a user imports it: `trailguard`, `trailguard/express`,
// `trailguard/fastify`, and the `trailguard` bin.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Fastify from 'fastify';
import { createTrailguard, TrailguardError, errorCodes } from 'trailguard';
import type { Trailguard } from 'trailguard';
import * as expressIntegration from 'trailguard/express';
import { recordLogin, recordLogout } from 'trailguard/fastify';

const run = promisify(execFile);
const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'dist/cli/main.js');
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe('package exports', () => {
  it('resolves every entry in package.json exports to built code with types', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      exports: Record<string, string | { types: string; default: string }>;
    };
    for (const [entry, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') continue;
      assert.equal(Object.keys(target)[0], 'types', `${entry}: types must come first`);
      assert.ok(readFileSync(join(root, target.types), 'utf8').length > 0, `${entry} types`);
      assert.ok(readFileSync(join(root, target.default), 'utf8').length > 0, `${entry} code`);
    }
  });

  it('ships source maps that carry their sources (src/ is not in the package)', () => {
    const map = JSON.parse(readFileSync(join(root, 'dist/trailguard.js.map'), 'utf8')) as {
      sources: string[];
      sourcesContent?: (string | null)[];
    };
    assert.equal(map.sourcesContent?.length, map.sources.length);
    assert.match(map.sourcesContent?.[0] ?? '', /export async function createTrailguard/);
  });

  it('exposes the error registry with stable codes', () => {
    assert.equal(errorCodes().get('VALIDATION_FAILED')?.status, 400);
    assert.equal(new TrailguardError('NOT_FOUND', 'x').status, 404);
    assert.equal(typeof expressIntegration.recordLogin, 'function');
  });
});

describe('trailguard/fastify', () => {
  let tg: Trailguard;
  before(async () => {
    tg = await createTrailguard({
      dataDir: 'memory://',
      logger: quiet,
      securityLog: { enabled: false },
      trustProxy: 'loopback',
    });
  });
  after(() => tg.close());

  it('records login and logout from a Fastify request, reading the raw socket', async () => {
    const app = Fastify();
    app.post('/login', async (request) => {
      const body = request.body as { email: string; ok: boolean };
      const rec = await recordLogin(tg, request, {
        username: body.email,
        userId: '7',
        success: body.ok,
        sessionKey: 'fastify-session',
      });
      return { id: rec.id, ip: rec.ipAddress, device: rec.deviceType };
    });
    app.post('/logout', async (request) => {
      const rec = await recordLogout(tg, request, { userId: '7', sessionKey: 'fastify-session' });
      return { closed: rec !== null };
    });
    try {
      const login = await app.inject({
        method: 'POST',
        url: '/login',
        remoteAddress: '127.0.0.1',
        headers: {
          'x-forwarded-for': '81.2.69.160',
          'user-agent':
            'Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.7 Mobile/15E148 Safari/604.1',
        },
        payload: { email: 'fastify@example.com', ok: true },
      });
      const body = login.json<{ id: string; ip: string; device: string }>();
      assert.equal(body.ip, '81.2.69.160');
      assert.equal(body.device, 'tablet');
      const logout = await app.inject({ method: 'POST', url: '/logout', remoteAddress: '127.0.0.1' });
      assert.deepEqual(logout.json(), { closed: true });
    } finally {
      await app.close();
    }
  });
});

describe('trailguard bin', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'trailguard-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints help', async () => {
    const { stdout } = await run(process.execPath, [bin, '--help']);
    assert.match(stdout, /Usage: trailguard/);
    assert.match(stdout, /demo/);
    assert.match(stdout, /migrate/);
    assert.match(stdout, /integrity/);
  });

  it('migrates, then runs the demo on the embedded database and answers the seed queries', async () => {
    const dataDir = join(dir, 'db');
    const migrated = await run(process.execPath, [bin, '--data-dir', dataDir, 'migrate']);
    assert.match(migrated.stdout, /applied \d+ migration/);
    const again = await run(process.execPath, [bin, '--data-dir', dataDir, 'migrate']);
    assert.match(again.stdout, /up to date/);
    const { stdout } = await run(process.execPath, [bin, '--data-dir', dataDir, 'demo'], {
      timeout: 120_000,
    });
    assert.match(stdout, /Recorded \d+ login attempts/);
    assert.match(stdout, /failed\(\{ username: 'admin', hours: 24 \}\)\s+— 12 failed attempts/);
    assert.match(stdout, /Success rate, last 7 days: \d+\.\d%/);
    assert.match(stdout, /Top IPs by failed logins, last hour: 185\.220\.101\.1 \(34\)/);
    assert.match(stdout, /CRITICAL account_enumeration on 185\.220\.101\.1/);
    assert.match(stdout, /CRITICAL brute_force on 185\.220\.101\.1/);
    assert.ok(!stdout.includes('"logger":"security.events"'), 'event lines go to the file, not the report');
  });

  it('exits non-zero with the redacted URL when PostgreSQL is unreachable', async () => {
    await assert.rejects(
      run(process.execPath, [bin, '--database-url', 'postgres://u:topsecret@127.0.0.1:1/x', 'migrate']),
      (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 1);
        assert.match(err.stderr, /127\.0\.0\.1:1/);
        assert.ok(!err.stderr.includes('topsecret'));
        return true;
      },
    );
  });
});
