/**
 * Group commit: concurrent writes are gathered into one multi-row statement. A write resolves only
 * after the statement that carried it has committed, and rejects if it did not. While a batch is in
 * flight the next one gathers, so batching grows with load and costs nothing when idle.
 * @module
 */
import { TrailguardError } from '../domain/errors.ts';
import { isDatabaseUnavailable } from './database-errors.ts';

export interface GroupCommitOptions<T> {
  /**
   * Writes one batch in one statement (atomic). Throwing rejects every item in the batch. `slot` is
   * unique among the batches in flight at that moment (0 ≤ slot < maxInFlight), so concurrent batches
   * can keep to rows of their own (e.g. rollup shards) instead of waiting on each other's locks.
   */
  flush(items: T[], slot: number): Promise<void>;
  /** Largest batch. @default 1000 */
  maxBatch?: number | undefined;
  /** Batches in flight at once (PostgreSQL can overlap a few; PGlite has one connection). @default 1 */
  maxInFlight?: number | undefined;
  /**
   * While a batch is in flight, another starts only once this many items wait: overlapping small
   * batches costs more round trips than it saves. @default maxBatch
   */
  minOverlap?: number | undefined;
  /** Called after each committed batch, for metrics. */
  onBatch?: ((size: number, durationMs: number) => void) | undefined;
  /** Decides whether a failed batch should be retried row by row to isolate a bad row. */
  isDataError?: ((err: unknown) => boolean) | undefined;
}

export interface GroupCommitter<T> {
  /** Queues `item`; resolves once it is committed. */
  submit(item: T): Promise<void>;
  /** Resolves when everything submitted so far has been committed or rejected. */
  drain(): Promise<void>;
  /** Refuses further writes and drains. */
  close(): Promise<void>;
  /** Items queued or in flight. */
  readonly pending: number;
}

interface Entry<T> {
  item: T;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** PostgreSQL SQLSTATE classes 22 (data exception) and 23 (integrity violation) are row problems. */
export function isPostgresDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

/**
 * The error a batch's calls get. The database's own text (table names, values) stays in `cause` for
 * the server log; the message reaches API clients. A connection lost while the batch was committing
 * leaves its outcome unknown, hence "may not".
 */
function failureOf(err: unknown): TrailguardError {
  if (err instanceof TrailguardError) return err;
  if (isDatabaseUnavailable(err))
    return new TrailguardError(
      'DATABASE_UNAVAILABLE',
      'the database became unavailable during the write, which may not have been stored; retry later',
      { cause: err },
    );
  return new TrailguardError('WRITE_FAILED', 'the database did not commit the write; nothing was stored', {
    cause: err,
  });
}

export function createGroupCommitter<T>(options: GroupCommitOptions<T>): GroupCommitter<T> {
  const maxBatch = options.maxBatch ?? 1000;
  const maxInFlight = options.maxInFlight ?? 1;
  const minOverlap = Math.min(options.minOverlap ?? maxBatch, maxBatch);
  const isDataError = options.isDataError ?? isPostgresDataError;
  let queue: Entry<T>[] = [];
  let inFlight = 0;
  // slots[i] is true while the batch holding slot i is in flight.
  const slots: boolean[] = new Array<boolean>(maxInFlight).fill(false);
  let inFlightItems = 0;
  let scheduled = false;
  let closed = false;
  let idleWaiters: (() => void)[] = [];

  // A batch starts at once when nothing is in flight. While one is, another starts only when
  // `minOverlap` items wait: overlapping small batches would cost more round trips than they save.
  function ready(): boolean {
    if (queue.length === 0 || inFlight >= maxInFlight) return false;
    return inFlight === 0 || queue.length >= minOverlap;
  }

  function schedule(): void {
    if (scheduled || !ready()) return;
    scheduled = true;
    // setImmediate lets every record() issued in the same tick join the batch.
    setImmediate(() => {
      scheduled = false;
      while (ready()) {
        const batch = queue.length <= maxBatch ? queue : queue.slice(0, maxBatch);
        queue = queue.length <= maxBatch ? [] : queue.slice(maxBatch);
        void run(batch);
      }
    });
  }

  async function write(batch: Entry<T>[], slot: number): Promise<void> {
    const started = performance.now();
    try {
      await options.flush(
        batch.map((e) => e.item),
        slot,
      );
    } catch (err) {
      if (batch.length > 1 && isDataError(err)) {
        // One bad row must not take its neighbours down: retry each alone.
        for (const entry of batch) await write([entry], slot);
        return;
      }
      // Only this batch's calls fail; the committer goes on with the next batch, which gets a fresh
      // connection from the pool once the database is back.
      for (const e of batch) e.reject(failureOf(err));
      return;
    }
    options.onBatch?.(batch.length, performance.now() - started);
    for (const e of batch) e.resolve();
  }

  async function run(batch: Entry<T>[]): Promise<void> {
    inFlight++;
    inFlightItems += batch.length;
    const slot = slots.indexOf(false);
    slots[slot] = true;
    try {
      await write(batch, slot);
    } finally {
      slots[slot] = false;
      inFlight--;
      inFlightItems -= batch.length;
      if (queue.length > 0) schedule();
      else if (inFlight === 0) {
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  function drain(): Promise<void> {
    if (queue.length === 0 && inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => idleWaiters.push(resolve));
  }

  return {
    submit(item) {
      if (closed) return Promise.reject(new TrailguardError('CLOSED', 'this Trailguard instance is closed'));
      return new Promise<void>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        schedule();
      });
    },
    drain,
    async close() {
      closed = true;
      await drain();
    },
    get pending() {
      return queue.length + inFlightItems;
    },
  };
}
