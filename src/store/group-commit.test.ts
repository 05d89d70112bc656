import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createGroupCommitter } from './group-commit.ts';
import { TrailguardError } from '../domain/errors.ts';

describe('group commit', () => {
  it('gathers calls made together into one batch and resolves each only after the flush committed', async () => {
    const batches: number[][] = [];
    let committed = false;
    const gc = createGroupCommitter<number>({
      flush: async (items) => {
        batches.push(items);
        await new Promise((r) => setTimeout(r, 5));
        committed = true;
      },
    });
    const results = await Promise.all([1, 2, 3, 4].map((n) => gc.submit(n).then(() => committed)));
    assert.deepEqual(batches, [[1, 2, 3, 4]]);
    assert.deepEqual(results, [true, true, true, true]);
  });

  it('rejects every call in a batch the database did not commit', async () => {
    const gc = createGroupCommitter<number>({
      flush: async () => {
        throw Object.assign(new Error('relation "login_history" does not exist'), { code: '42P01' });
      },
    });
    const outcomes = await Promise.allSettled([gc.submit(1), gc.submit(2)]);
    for (const o of outcomes) {
      assert.equal(o.status, 'rejected');
      assert.ok(o.status === 'rejected' && o.reason instanceof TrailguardError);
      assert.equal(o.status === 'rejected' && (o.reason as TrailguardError).code, 'WRITE_FAILED');
    }
  });

  it("keeps the database's error text out of WRITE_FAILED's message (it reaches API clients), in its cause", async () => {
    const dbError = Object.assign(new Error('permission denied for table login_history partition'), {
      code: '42501',
    });
    const gc = createGroupCommitter<number>({
      flush: async () => {
        throw dbError;
      },
    });
    const [outcome] = await Promise.allSettled([gc.submit(1)]);
    assert.ok(outcome?.status === 'rejected');
    const err = outcome.reason as TrailguardError;
    assert.equal(err.code, 'WRITE_FAILED');
    assert.doesNotMatch(err.message, /login_history|partition/);
    assert.equal(err.cause, dbError);
  });

  it('fails the batch in flight with DATABASE_UNAVAILABLE when the connection is lost, and commits the next', async () => {
    let down = true;
    const stored: number[] = [];
    const gc = createGroupCommitter<number>({
      flush: async (items) => {
        if (down) throw new Error('Connection terminated unexpectedly');
        stored.push(...items);
      },
    });
    const lost = await Promise.allSettled([gc.submit(1), gc.submit(2)]);
    for (const o of lost) {
      assert.ok(o.status === 'rejected' && o.reason instanceof TrailguardError);
      assert.equal(o.reason.code, 'DATABASE_UNAVAILABLE');
      assert.equal(o.reason.status, 503);
      assert.doesNotMatch(o.reason.message, /terminated/);
    }
    down = false;
    await Promise.all([gc.submit(3), gc.submit(4)]);
    assert.deepEqual(stored, [3, 4]);
    assert.equal(gc.pending, 0);
  });

  it('retries row by row after a data error, so one bad row does not sink its neighbours', async () => {
    const stored: number[] = [];
    const gc = createGroupCommitter<number>({
      flush: async (items) => {
        if (items.includes(13)) throw Object.assign(new Error('bad row'), { code: '22P02' });
        stored.push(...items);
      },
    });
    const outcomes = await Promise.allSettled([12, 13, 14].map((n) => gc.submit(n)));
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.deepEqual(stored.sort(), [12, 14]);
  });

  it('keeps batches large while one is in flight, and caps them at maxBatch', async () => {
    const sizes: number[] = [];
    const gc = createGroupCommitter<number>({
      maxBatch: 100,
      maxInFlight: 4,
      flush: async (items) => {
        sizes.push(items.length);
        await new Promise((r) => setTimeout(r, 10));
      },
    });
    const first = gc.submit(0);
    await new Promise((r) => setImmediate(r));
    // While the first batch is in flight, 250 more arrive one by one.
    const rest: Promise<void>[] = [];
    for (let i = 1; i <= 250; i++) {
      rest.push(gc.submit(i));
      if (i % 10 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all([first, ...rest]);
    assert.equal(sizes[0], 1);
    assert.ok(Math.max(...sizes) <= 100);
    assert.ok(sizes.length <= 5, `expected few large batches, got ${sizes.join(',')}`);
    assert.equal(
      sizes.reduce((a, b) => a + b, 0),
      251,
    );
  });

  it('overlaps a batch once minOverlap items wait, giving each batch in flight its own slot', async () => {
    const inFlight = new Set<number>();
    const seen: { size: number; slot: number; overlapping: number[] }[] = [];
    const gc = createGroupCommitter<number>({
      maxBatch: 50,
      minOverlap: 20,
      maxInFlight: 3,
      flush: async (items, slot) => {
        seen.push({ size: items.length, slot, overlapping: [...inFlight] });
        assert.ok(!inFlight.has(slot), `slot ${slot} given to two batches at once`);
        inFlight.add(slot);
        await new Promise((r) => setTimeout(r, 20));
        inFlight.delete(slot);
      },
    });
    const first = gc.submit(0);
    await new Promise((r) => setImmediate(r));
    // 10 waiting items do not start a second batch; 25 do.
    const more = Array.from({ length: 10 }, (_, i) => gc.submit(1 + i));
    await new Promise((r) => setImmediate(r));
    assert.equal(seen.length, 1);
    more.push(...Array.from({ length: 15 }, (_, i) => gc.submit(11 + i)));
    await new Promise((r) => setImmediate(r));
    assert.equal(seen.length, 2);
    assert.deepEqual(seen[1], { size: 25, slot: 1, overlapping: [0] });
    await Promise.all([first, ...more]);
    assert.ok(seen.every((b) => b.slot >= 0 && b.slot < 3));
  });

  it('refuses writes after close and drains what was queued', async () => {
    const stored: number[] = [];
    const gc = createGroupCommitter<number>({ flush: async (items) => void stored.push(...items) });
    const p = gc.submit(1);
    await gc.close();
    await p;
    assert.deepEqual(stored, [1]);
    await assert.rejects(gc.submit(2), { code: 'CLOSED' });
  });
});
