/**
 * The security log's writes: one JSON line per event, and the lines of a committed batch as one write
 * to the destination (one system call for a descriptor), in order, each still a whole line.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecurityLog } from '../../src/security/security-log.ts';
import type { SecurityLogLine } from '../../src/security/security-log.ts';
import { isTrailguardError } from '../../src/domain/errors.ts';

function line(i: number, severity: SecurityLogLine['severity'] = 'info'): SecurityLogLine {
  return {
    timestamp: new Date(Date.UTC(2026, 4, 10, 8, 0, i)),
    severity,
    message: `event ${i}\nforged: line`,
    type: 'login_success',
    category: 'authentication',
    id: `id-${i}`,
    username: `user${i}\r\n{"level":"CRITICAL"}`,
    location: { file: 'src/app.ts', line: i, function: null },
    context: {},
  };
}

function recorder() {
  const chunks: string[] = [];
  return { chunks, stream: { write: (c: string) => chunks.push(c) } };
}

describe('security log writes', () => {
  it('writes one line per event', () => {
    const r = recorder();
    const log = createSecurityLog({ destination: r.stream, format: 'seed' });
    log.write(line(1));
    log.write(line(2, 'warning'));
    assert.equal(r.chunks.length, 2);
    const parsed = r.chunks.map((c) => JSON.parse(c) as Record<string, unknown>);
    assert.deepEqual(
      parsed.map((p) => p['level']),
      ['INFO', 'WARNING'],
    );
  });

  it("writes a batch's lines as one write, in order, each a whole JSON line", () => {
    const r = recorder();
    const log = createSecurityLog({ destination: r.stream, format: 'seed' });
    log.writeAll([line(1), line(2, 'error'), line(3, 'critical')]);
    assert.equal(r.chunks.length, 1, 'one write for the batch');
    const text = r.chunks[0] as string;
    assert.ok(text.endsWith('\n'));
    const lines = text.split('\n').slice(0, -1);
    assert.equal(lines.length, 3, 'CR/LF inside values cannot add a line');
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.deepEqual(
      parsed.map((p) => [p['level'], p['location'].line]),
      [
        ['INFO', 1],
        ['ERROR', 2],
        ['CRITICAL', 3],
      ],
    );
    assert.equal(parsed[1]?.['context'].username, 'user2\r\n{"level":"CRITICAL"}');
    // Single lines are written at once again after a batch.
    log.write(line(4));
    assert.equal(r.chunks.length, 2);
    log.writeAll([]);
    assert.equal(r.chunks.length, 2, 'an empty batch writes nothing');
  });

  it('fails at start, naming the setting, when the file cannot be written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tg-seclog-'));
    try {
      const notADirectory = join(dir, 'plain-file');
      await writeFile(notADirectory, '');
      assert.throws(
        () => createSecurityLog({ destination: join(notADirectory, 'security.log') }),
        (e: unknown) =>
          isTrailguardError(e) &&
          e.code === 'SECURITY_LOG_FAILED' &&
          (e as { field?: string }).field === 'securityLog.destination',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gets every line of every batch into a file by close()', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tg-seclog-'));
    try {
      const file = join(dir, 'security.log');
      const log = createSecurityLog({ destination: file, format: 'seed' });
      for (let b = 0; b < 50; b++) log.writeAll(Array.from({ length: 20 }, (_, i) => line(b * 20 + i)));
      log.write(line(1000));
      await log.close();
      const lines = (await readFile(file, 'utf8')).split('\n').slice(0, -1);
      assert.equal(lines.length, 1001);
      assert.deepEqual(
        lines.map((l) => (JSON.parse(l) as { location: { line: number } }).location.line),
        Array.from({ length: 1001 }, (_, i) => i),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
