import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { openTrailguard } from '../../test/helpers/backends.ts';
import { startSealSchedule } from './seal-schedule.ts';
import type { SealResult } from './integrity-service.ts';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe('seal schedule', () => {
  it('seals on every tick, never two at once, and stop() waits for the run in progress', async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    let finished = 0;
    const integrity = {
      async seal(): Promise<SealResult> {
        running++;
        runs++;
        maxRunning = Math.max(maxRunning, running);
        await sleep(30);
        running--;
        finished++;
        return { sealed: [], head: null };
      },
    };
    const schedule = startSealSchedule(integrity, 0.01, quiet);
    await sleep(120);
    await schedule.stop();
    assert.ok(runs >= 2, `ran ${runs} times`);
    assert.equal(maxRunning, 1);
    assert.equal(finished, runs, 'stop() waited for the last run');
    await sleep(40);
    assert.equal(runs, finished, 'no run after stop()');
  });

  it('logs a failed run and keeps going', async () => {
    const errors: unknown[] = [];
    let runs = 0;
    const schedule = startSealSchedule(
      {
        async seal(): Promise<SealResult> {
          runs++;
          throw new Error('database down');
        },
      },
      0.01,
      { ...quiet, error: (obj) => errors.push(obj) },
    );
    await sleep(60);
    await schedule.stop();
    assert.ok(runs >= 2);
    assert.equal(errors.length, runs);
  });

  it('runs inside the library when integrity.sealIntervalSeconds is set, and close() stops it', async () => {
    const lines: string[] = [];
    const tg = await openTrailguard('pglite', {
      integrity: { sealIntervalSeconds: 1, settleSeconds: 0 },
      securityLog: { destination: { write: (s: string) => lines.push(s) } },
    });
    try {
      await tg.logins.record({ username: 'auto@example.test', success: true, ip: '203.0.113.9' });
      await tg.logins.flush();
      await sleep(1_300);
      const head = await tg.integrity.head();
      assert.ok(head, 'sealed by the timer');
      // The head went to the security log (ECS by default), outside the database.
      const anchor = lines
        .map(
          (l) =>
            JSON.parse(l) as { event: { action: string }; trailguard: { context: Record<string, unknown> } },
        )
        .find((l) => l.event.action === 'integrity-sealed');
      assert.ok(anchor);
      assert.equal(typeof anchor.trailguard.context['head_seq'], 'number');
      assert.match(String(anchor.trailguard.context['head_hash']), /^[0-9a-f]{64}$/);
    } finally {
      await tg.close();
    }
  });
});
