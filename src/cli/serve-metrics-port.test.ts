import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MAIN = new URL('./main.ts', import.meta.url).pathname;
// Resolved here: the child runs in a scratch directory, where a bare `tsx` would not be found.
const TSX = import.meta.resolve('tsx');

/** Runs `trailguard serve` with `args` until it prints its URLs; returns them and the process. */
async function serve(args: string[], env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tg-serve-metrics-'));
  const child = spawn(
    process.execPath,
    ['--import', TSX, MAIN, 'serve', '--port', '0', '--data-dir', join(dir, 'db'), ...args],
    {
      cwd: dir,
      env: { ...process.env, DATABASE_URL: '', REDIS_URL: '', NODE_ENV: 'test', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not start in 300 s:\n${err}`)), 300_000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`serve exited with ${code}:\n${out}\n${err}`));
      });
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (/Create an API key/.test(out)) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          resolve();
        }
      });
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return { out, err: () => err, stop, admin: /Admin:\s+(http:\/\/\S+?)\/?\s/.exec(out)?.[1] };
}

describe('trailguard serve --metrics-port', () => {
  it('serves /metrics without credentials on the internal port (TRAILGUARD_METRICS_PORT too), on loopback', async () => {
    const s = await serve([], { TRAILGUARD_METRICS_PORT: '0' });
    try {
      const internal = /Metrics:\s+(http:\/\/127\.0\.0\.1:\d+\/metrics) \(no credentials\)/.exec(s.out)?.[1];
      assert.ok(internal, s.out);
      const res = await fetch(internal);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /^# TYPE trailguard_alert_outbox_pending gauge$/m);
      assert.ok(s.admin);
      assert.equal((await fetch(`${s.admin}/metrics`)).status, 401, 'the public /metrics still needs a key');
    } finally {
      await s.stop();
    }
  });

  it('refuses a port that is not a number before opening anything', async () => {
    await assert.rejects(serve(['--metrics-port', 'nope']), /--metrics-port must be 0–65535, got nope/);
  });
});
