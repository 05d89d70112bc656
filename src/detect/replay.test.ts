import { describe, it } from 'node:test';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttemptLogReader } from './attempt-log.ts';
import type { LoginAttempt } from './attempt-log.ts';
import { replayAttempts } from './replay.ts';

const CLI = ['--import', 'tsx', fileURLToPath(new URL('../cli/main.ts', import.meta.url))];

const AUTH_LOG = `Dec 31 23:59:58 bastion sshd[100]: Failed password for root from 203.0.113.5 port 4000 ssh2
Dec 31 23:59:59 bastion sshd[100]: message repeated 3 times: [ Failed password for root from 203.0.113.5 port 4000 ssh2]
Jan  1 00:00:01 bastion sshd[101]: Invalid user admin from 203.0.113.5 port 4001
Jan  1 00:00:02 bastion sshd[101]: Failed password for invalid user admin from 203.0.113.5 port 4001 ssh2
Jan  1 00:00:03 bastion sshd[102]: Failed publickey for alice from 198.51.100.7 port 5000 ssh2: ED25519 SHA256:x
Jan  1 00:00:04 bastion sshd[102]: Accepted publickey for alice from 198.51.100.7 port 5000 ssh2: ED25519 SHA256:x
Jan  1 00:00:05 bastion sshd[102]: pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)
2027-01-01T00:00:06.123456+00:00 bastion sshd[103]: Failed keyboard-interactive/pam for bob from 2001:db8::1 port 6000 ssh2
`;

function readAll(text: string, reader: AttemptLogReader): LoginAttempt[] {
  return text.split('\n').flatMap((l) => reader.read(l));
}

describe('login attempt logs', () => {
  it('reads OpenSSH verdicts, repeats and both time stamp styles, and skips everything else', () => {
    const reader = new AttemptLogReader({ year: 2026 });
    const got = readAll(AUTH_LOG, reader);
    assert.deepEqual(
      got.map((a) => [a.at.toISOString(), a.ip, a.username, a.success]),
      [
        ['2026-12-31T23:59:58.000Z', '203.0.113.5', 'root', false],
        ['2026-12-31T23:59:59.000Z', '203.0.113.5', 'root', false],
        ['2026-12-31T23:59:59.000Z', '203.0.113.5', 'root', false],
        ['2026-12-31T23:59:59.000Z', '203.0.113.5', 'root', false],
        // The log crossed New Year: January is 2027, not the January before.
        ['2027-01-01T00:00:02.000Z', '203.0.113.5', 'admin', false],
        ['2027-01-01T00:00:04.000Z', '198.51.100.7', 'alice', true],
        ['2027-01-01T00:00:06.123Z', '2001:db8::1', 'bob', false],
      ],
    );
    // "Invalid user", the public-key failure and the PAM line are not attempts of their own.
    assert.equal(reader.skipped, 3);
  });

  it('reads Trailguard export lines and ingestion records, leaving out logouts and broken lines', () => {
    const reader = new AttemptLogReader();
    const lines = [
      JSON.stringify({
        event: 'login',
        loginAt: '2026-05-01T10:00:00Z',
        ipAddress: '192.0.2.1',
        username: 'a',
        success: false,
      }),
      JSON.stringify({
        event: 'logout',
        loginAt: '2026-05-01T10:00:00Z',
        ipAddress: '192.0.2.1',
        username: 'a',
        success: true,
      }),
      JSON.stringify({
        occurredAt: '2026-05-01T10:01:00Z',
        ip: '::ffff:192.0.2.2',
        username: 'b',
        success: true,
      }),
      JSON.stringify({ at: '2026-05-01T10:02:00Z', ip: 'not-an-ip', username: 'c', success: false }),
      '{"truncated": ',
    ];
    const got = readAll(lines.join('\n'), reader);
    assert.deepEqual(
      got.map((a) => [a.at.toISOString(), a.ip, a.username, a.success]),
      [
        ['2026-05-01T10:00:00.000Z', '192.0.2.1', 'a', false],
        ['2026-05-01T10:01:00.000Z', '192.0.2.2', 'b', true],
      ],
    );
    assert.equal(reader.skipped, 3);
  });
});

const at = (minute: number, second = 0) => new Date(Date.UTC(2026, 4, 1, 10, minute, second));

describe('detection replay', () => {
  it('raises the seed brute-force signal at the fifth failure, in event time whatever the log order', async () => {
    const attempts = [5, 3, 1, 4, 2, 6].map((m) => ({
      at: at(m),
      ip: '192.0.2.9',
      username: 'root',
      success: false,
    }));
    const r = await replayAttempts(attempts);
    assert.equal(r.mode, 'monitor');
    assert.deepEqual(
      r.signals.map((s) => [s.at.toISOString(), s.pattern, s.key, s.count]),
      [[at(5).toISOString(), 'brute_force', '192.0.2.9', 5]],
    );
    assert.equal(r.flaggedIps, 1);
    assert.equal(r.from?.toISOString(), at(1).toISOString());
  });

  it('counts what enforce mode would refuse, and the refusals that then logged in from the same address', async () => {
    const attempts: LoginAttempt[] = [];
    // An office address: five typos by different people trip brute_force ...
    for (let i = 0; i < 5; i++)
      attempts.push({ at: at(i), ip: '192.0.2.10', username: `u${i}`, success: false });
    // ... then u0 types the right password (refused), and u7 is refused but signs in after the window.
    attempts.push({ at: at(6), ip: '192.0.2.10', username: 'u0', success: true });
    attempts.push({ at: at(7), ip: '192.0.2.10', username: 'u7', success: false });
    attempts.push({ at: at(40), ip: '192.0.2.10', username: 'u7', success: true });
    // An attacker refused on an account that never signs in from there.
    attempts.push({ at: at(8), ip: '192.0.2.10', username: 'root', success: false });
    const r = await replayAttempts(attempts, { bruteForce: { threshold: 5, windowSeconds: 900 } });
    assert.deepEqual(r.refused, { attempts: 3, successes: 1, ips: 1, accounts: 3, likelyLegitimate: 2 });
    assert.equal(r.successes, 2);
  });

  it('refuses a configuration error naming the field, as createTrailguard does', async () => {
    await assert.rejects(replayAttempts([], { bruteForce: { threshold: 0 } }), {
      code: 'CONFIG_INVALID',
      field: 'detection.bruteForce.threshold',
    });
    await assert.rejects(replayAttempts([], { allowlist: ['10.0.0.0/8'] }), {
      code: 'CONFIG_INVALID',
      field: 'detection.allowlist',
    });
  });

  it('runs from the CLI on an auth.log with a config file, as text and as JSON', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-replay-'));
    const log = join(dir, 'auth.log');
    const config = join(dir, 'trailguard.json');
    writeFileSync(log, AUTH_LOG);
    writeFileSync(
      config,
      JSON.stringify({ detection: { mode: 'enforce', bruteForce: { threshold: 4, windowSeconds: 60 } } }),
    );
    const run = (...args: string[]) =>
      new Promise<string>((resolve, reject) => {
        execFile(
          process.execPath,
          [...CLI, 'detect', 'replay', '--config', config, '--year', '2026', ...args],
          (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
        );
      });
    try {
      const text = await run(log);
      assert.match(text, /replayed 7 login attempts \(6 failed, 1 succeeded\)/);
      assert.match(text, /brute_force 1/);
      assert.match(text, /would refuse 1 attempts from 1 address/);
      const report = JSON.parse(await run('--json', log)) as {
        mode: string;
        skippedLines: number;
        signals: { key: string }[];
      };
      assert.equal(report.mode, 'enforce');
      assert.equal(report.skippedLines, 3);
      assert.deepEqual(
        report.signals.map((s) => s.key),
        ['203.0.113.5'],
      );
      await assert.rejects(run('--signals', 'many', log), /--signals must be a whole number/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
