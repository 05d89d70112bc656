/**
 * Redis window store: the sliding windows live in capped, packed strings shared by every process
 * (layout in `redis-window-script.ts`). A failed login is at most one EVALSHA round trip: the calls
 * that arrive together go as one (per hash slot on Redis Cluster, where IP keys and account keys carry
 * different hash tags and each is sent on its own). When Redis is down or really slow, calls fall back
 * to an in-process store — a login is never blocked — and Redis is probed again until it returns.
 * @module
 */
import { Redis } from 'ioredis';
import type { Cluster, RedisOptions } from 'ioredis';
import { TrailguardError } from '../domain/errors.ts';
import './error-codes.ts';
import { generateWindowScript } from './redis-window-script.ts';
import type { KeyOp, WindowOutcome, WindowSpec, WindowStore } from './window.ts';

/**
 * Connection options for detection: fail fast, never queue commands while disconnected. There is no
 * ioredis `commandTimeout`: the store gives each script call its own deadline (`timeoutMs`) with one
 * timer for all calls in flight, where `commandTimeout` arms and clears a timer per command.
 */
export function detectionRedisOptions(timeoutMs: number): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: Math.max(1000, timeoutMs * 10),
    // Keep reconnecting in the background; detection uses the fallback meanwhile.
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    lazyConnect: false,
  };
}

/** Opens a client for detection from a redis:// URL. */
export function connectDetectionRedis(url: string, timeoutMs: number): Redis {
  const client = new Redis(url, detectionRedisOptions(timeoutMs));
  // Errors surface through rejected commands; the event would otherwise be unhandled.
  client.on('error', () => {});
  return client;
}

type ScriptClient = (Redis | Cluster) &
  Record<string, ((...args: (string | number)[]) => Promise<number[]>) | undefined>;

/** How a Redis script call ended: answered, failed (an error reply or connection error), or too slow. */
export type RedisCallOutcome = 'ok' | 'error' | 'timeout';

export interface RedisWindowStoreOptions {
  client: Redis | Cluster;
  /** Used while Redis is unreachable. */
  fallback: WindowStore;
  /** How long Redis may take to answer a call once it is written. @default 100 */
  timeoutMs?: number | undefined;
  maxEntriesPerKey: number;
  /** Called once when Redis stops answering (and again only after it has recovered). */
  onDegraded?: ((err: unknown) => void) | undefined;
  onRecovered?: (() => void) | undefined;
  /** How long to serve from the fallback before probing Redis again. @default 1000 */
  probeIntervalMs?: number | undefined;
  /**
   * How long calls made before the connection is ready wait for it before the fallback answers them.
   * @default the connect timeout of `detectionRedisOptions(timeoutMs)` (at least 1000)
   */
  connectWaitMs?: number | undefined;
  /** Most events sent in one script call. @default 16 */
  maxBatch?: number | undefined;
  /** Called when a script call settles: its duration, and whether Redis answered, failed or timed out. */
  onCall?: ((seconds: number, outcome: RedisCallOutcome) => void) | undefined;
  /** Close the client on close(). @default true */
  ownsClient?: boolean | undefined;
}

/** Rejects when `promise` has not settled within `ms`. */
async function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Why a reset was not applied: Redis could not delete the keys (nothing was reset). */
export class DetectionUnavailableError extends TrailguardError {
  /** When to try again, in seconds. */
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number, cause: unknown) {
    super(
      'DETECTION_UNAVAILABLE',
      'detection state in Redis is unreachable; nothing was reset (retry when Redis is back)',
      { cause },
    );
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export function createRedisWindowStore(options: RedisWindowStoreOptions): WindowStore & {
  /** True while serving from the fallback. */
  readonly degraded: boolean;
  /** Resolves true once Redis is ready, or false when the connect wait ran out (bounded). */
  ready(): Promise<boolean>;
} {
  const client = options.client as ScriptClient;
  const cap = options.maxEntriesPerKey;
  const isCluster = (client as { isCluster?: boolean }).isCluster === true;
  const probeInterval = options.probeIntervalMs ?? 1000;
  const timeoutMs = options.timeoutMs ?? 100;
  const connectWaitMs = options.connectWaitMs ?? detectionRedisOptions(timeoutMs).connectTimeout ?? 1000;
  let degraded = false;
  let nextProbe = 0;
  let closed = false;

  // One generated script per shape of call (the window specs and retention of each op, in order),
  // registered with ioredis defineCommand: EVALSHA, with an EVAL fallback when Redis lost the script.
  // Window arrays are identified by reference first (the detector reuses its arrays), then by content.
  const specIds = new WeakMap<readonly WindowSpec[], string>();
  const specIdsByContent = new Map<string, string>();
  function specId(windows: readonly WindowSpec[]): string {
    let id = specIds.get(windows);
    if (id === undefined) {
      const content = JSON.stringify(windows.map((w) => [w.mode, w.windowMs, w.threshold, w.field]));
      id = specIdsByContent.get(content);
      if (id === undefined) {
        id = `s${specIdsByContent.size}`;
        specIdsByContent.set(content, id);
      }
      specIds.set(windows, id);
    }
    return id;
  }
  const commands = new Map<string, string>();
  // The detector sends the same two shapes over and over: remember the last one by reference.
  let lastOps: KeyOp[] = [];
  let lastName = '';
  function sameShape(ops: KeyOp[]): boolean {
    if (ops.length !== lastOps.length) return false;
    for (let i = 0; i < ops.length; i++) {
      const a = ops[i] as KeyOp;
      const b = lastOps[i] as KeyOp;
      if (a.windows !== b.windows || a.retentionMs !== b.retentionMs) return false;
    }
    return true;
  }
  function commandFor(ops: KeyOp[]): string {
    if (lastName !== '' && sameShape(ops)) return lastName;
    lastOps = ops;
    lastName = shapeCommand(ops);
    return lastName;
  }
  function shapeCommand(ops: KeyOp[]): string {
    let shape = '';
    for (const op of ops) shape += `${specId(op.windows)}@${op.retentionMs};`;
    let name = commands.get(shape);
    if (name === undefined) {
      const script = generateWindowScript(ops, cap);
      name = script.name;
      // No fixed numberOfKeys: a call carries the key count first, as many keys as it has events.
      if (typeof client[name] !== 'function') client.defineCommand(name, { lua: script.lua });
      commands.set(shape, name);
    }
    return name;
  }

  // Calls that arrive in the same turn of the event loop with the same shape go as one EVALSHA: the
  // script applies their events one after the other, as if they had come one by one. A batch is cut
  // at maxBatch events so that one script never holds Redis for long.
  interface Waiter {
    ops: KeyOp[];
    at: number;
    resolve(outcomes: WindowOutcome[][] | Promise<WindowOutcome[][]>): void;
  }
  interface Batch {
    command: string;
    record: boolean;
    keys: string[];
    args: (string | number)[];
    waiters: Waiter[];
    /** performance.now() after which the batch is answered from the fallback (set when written). */
    deadline: number;
    /** performance.now() when it was sent. */
    sentAt: number;
    settled: boolean;
  }
  const maxBatch = options.maxBatch ?? 16;
  let open = new Map<string, Batch>();
  let flushScheduled = false;

  // Batches in flight, in the order they were written (so also by deadline), and the one timer that
  // expires them: it is armed for the oldest deadline and re-armed for the next one when it fires.
  //
  // The deadline counts from the write, and a batch is only judged late after this turn of the event
  // loop has read its socket: a timer fires before the poll phase, so when the process itself was busy
  // (a long synchronous task, heavy ingest) the reply may already be sitting unread in the socket. The
  // judgement runs in a setImmediate, which comes after the poll phase has handed every readable reply
  // to ioredis. A slow event loop then delays answers but never sends them to the fallback; only Redis
  // itself not answering within `timeoutMs` of the write does. (A breaker counting consecutive misses
  // would still have split verdicts for the calls it let through, and a lag-extended timer cannot tell
  // a loop that is slow from a Redis that is slow.)
  const inFlight = new Set<Batch>();
  let expiry: ReturnType<typeof setTimeout> | undefined;
  let judging = false;
  function oldest(): Batch | undefined {
    for (const b of inFlight) return b;
    return undefined;
  }
  function expire(): void {
    expiry = undefined;
    const first = oldest();
    if (!first) return;
    const now = performance.now();
    if (first.deadline > now) {
      arm(first.deadline - now);
      return;
    }
    if (judging) return;
    judging = true;
    setImmediate(() => {
      judging = false;
      const late = oldest();
      if (late && late.deadline <= now) {
        enterDegraded(new Error(`Redis did not answer within ${timeoutMs} ms`), 'timeout');
      } else if (late && expiry === undefined) {
        arm(late.deadline - performance.now());
      }
    });
  }
  function arm(ms: number): void {
    expiry = setTimeout(expire, Math.max(1, Math.ceil(ms)));
    expiry.unref();
  }
  function settle(batch: Batch): boolean {
    if (batch.settled) return false;
    batch.settled = true;
    inFlight.delete(batch);
    return true;
  }

  /** Answers one call from the fallback (synchronously started, so calls keep their order). */
  function answerFromFallback(w: Waiter, record: boolean): void {
    w.resolve(options.fallback.apply(w.ops, w.at, record));
  }

  /**
   * Redis failed: every call not yet answered by Redis — in flight, then still to be sent — is answered
   * from the fallback now, in the order it was made, before any later call (which goes to the fallback
   * directly). Waiting for each batch's own deadline would let later calls overtake earlier ones.
   */
  function enterDegraded(err: unknown, outcome: 'timeout' | 'error' = 'error'): void {
    nextProbe = performance.now() + probeInterval;
    if (!degraded) {
      degraded = true;
      options.onDegraded?.(err);
    }
    if (expiry !== undefined) {
      clearTimeout(expiry);
      expiry = undefined;
    }
    const now = performance.now();
    for (const batch of [...inFlight]) {
      settle(batch);
      options.onCall?.((now - batch.sentAt) / 1000, outcome);
      for (const w of batch.waiters) answerFromFallback(w, batch.record);
    }
    const unsent = open;
    open = new Map();
    for (const batch of unsent.values()) for (const w of batch.waiters) answerFromFallback(w, batch.record);
  }

  function send(batch: Batch): void {
    const fn = client[batch.command] as (...a: (string | number)[]) => Promise<number[]>;
    batch.sentAt = performance.now();
    batch.deadline = batch.sentAt + timeoutMs;
    inFlight.add(batch);
    if (expiry === undefined) arm(timeoutMs);
    const call = fn.call(client, batch.keys.length, ...batch.keys, batch.record ? '1' : '0', ...batch.args);
    call.then(
      (flat) => {
        if (!settle(batch)) return; // answered from the fallback already
        options.onCall?.((performance.now() - batch.sentAt) / 1000, 'ok');
        let at = 0;
        for (const w of batch.waiters) {
          const outcomes: WindowOutcome[][] = [];
          at = parse(w.ops, flat, at, outcomes);
          w.resolve(outcomes);
        }
      },
      (err: unknown) => {
        if (!batch.settled) enterDegraded(err);
      },
    );
  }

  function flush(): void {
    flushScheduled = false;
    const batches = open;
    open = new Map();
    for (const batch of batches.values()) {
      if (degraded) for (const w of batch.waiters) answerFromFallback(w, batch.record);
      else send(batch);
    }
  }

  function enqueue(ops: KeyOp[], at: number, record: boolean): Promise<WindowOutcome[][]> {
    const command = commandFor(ops);
    const id = record ? command : `${command}:check`;
    // On a cluster every key has its own slot, so each call goes alone.
    const batch: Batch = (isCluster ? undefined : open.get(id)) ?? {
      command,
      record,
      keys: [],
      args: [],
      waiters: [],
      deadline: 0,
      sentAt: 0,
      settled: false,
    };
    for (const op of ops) batch.keys.push(op.key);
    batch.args.push(at);
    for (const op of ops) batch.args.push(op.entity);
    const result = new Promise<WindowOutcome[][]>((resolve) => batch.waiters.push({ ops, at, resolve }));
    if (isCluster || batch.waiters.length >= maxBatch) {
      open.delete(id);
      send(batch);
    } else if (batch.waiters.length === 1) {
      open.set(id, batch);
      if (!flushScheduled) {
        flushScheduled = true;
        process.nextTick(flush);
      }
    }
    return result;
  }

  // A window's reply is its count, and only at its threshold also firstSeenMs, releaseMs and alert.
  function parse(ops: KeyOp[], flat: number[], from: number, into: WindowOutcome[][]): number {
    let i = from;
    for (const op of ops) {
      const outcomes: WindowOutcome[] = [];
      for (const w of op.windows) {
        const count = Number(flat[i++]);
        if (count < w.threshold) {
          outcomes.push({ count, firstSeenMs: 0, releaseMs: 0, alert: false });
          continue;
        }
        outcomes.push({
          count,
          firstSeenMs: Number(flat[i]),
          releaseMs: Number(flat[i + 1]),
          alert: Number(flat[i + 2]) === 1,
        });
        i += 3;
      }
      into.push(outcomes);
    }
    return i;
  }

  function viaRedis(ops: KeyOp[], at: number, record: boolean): Promise<WindowOutcome[][]> {
    if (!isCluster) return enqueue(ops, at, record);
    // Cluster: a script may only touch one slot. Each op's key has its own hash tag; send them in parallel.
    return Promise.all(ops.map((op) => enqueue([op], at, record))).then((parts) =>
      parts.map((p) => p[0] as WindowOutcome[]),
    );
  }

  // Calls made before the connection is ready wait for it (bounded by connectWaitMs): without the wait
  // the first second of a new process would be answered from its private fallback ("Stream isn't
  // writeable"), a verdict no other process shares. The waiters resume in the order they came.
  let readiness: Promise<boolean> | null = null;
  let everReady = client.status === 'ready';
  function ready(): Promise<boolean> {
    if (everReady || client.status === 'ready') {
      everReady = true;
      return Promise.resolve(true);
    }
    readiness ??= new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => done(false), connectWaitMs);
      timer.unref();
      function onReady(): void {
        done(true);
      }
      function done(ok: boolean): void {
        clearTimeout(timer);
        client.off('ready', onReady);
        if (ok) everReady = true;
        readiness = null;
        resolve(ok);
      }
      client.on('ready', onReady);
    });
    return readiness;
  }

  // While degraded every call is answered from the fallback, and a PING (never a login) finds out
  // whether Redis is back: a login used as the probe could be answered after later ones.
  let probing = false;
  function probe(): void {
    if (probing || closed || performance.now() < nextProbe || client.status !== 'ready') return;
    probing = true;
    withDeadline(client.ping(), timeoutMs * 5).then(
      () => {
        probing = false;
        if (!degraded || closed) return;
        degraded = false;
        options.onRecovered?.();
      },
      () => {
        probing = false;
        nextProbe = performance.now() + probeInterval;
      },
    );
  }
  // A reconnect is the moment Redis may be back: probe then rather than at the next call.
  const onReconnect = (): void => {
    if (degraded) {
      nextProbe = 0;
      probe();
    }
  };
  client.on('ready', onReconnect);

  async function applyWhenReady(ops: KeyOp[], at: number, record: boolean): Promise<WindowOutcome[][]> {
    const waitStarted = performance.now();
    const ok = await ready();
    if (!ok && !degraded) enterDegraded(new Error(`Redis was not ready within ${connectWaitMs} ms`));
    // A call that waited for a connection that never came failed on Redis, like one that was sent.
    if (!ok) options.onCall?.((performance.now() - waitStarted) / 1000, 'error');
    if (degraded) return options.fallback.apply(ops, at, record);
    return viaRedis(ops, at, record);
  }

  return {
    get degraded() {
      return degraded;
    },
    ready,
    apply(ops, at, record) {
      if (degraded) {
        probe();
        return options.fallback.apply(ops, at, record);
      }
      // The usual case, Redis up: the script call's own promise (the fallback answers it on failure).
      if (everReady) return viaRedis(ops, at, record);
      return applyWhenReady(ops, at, record);
    },
    async clear(keys) {
      // Both or neither: clearing only this process's fallback while Redis keeps the counts would
      // report a reset that every other process, and this one once Redis is back, does not see.
      const retryAfter = Math.max(1, Math.ceil(probeInterval / 1000));
      if (degraded) {
        probe();
        throw new DetectionUnavailableError(retryAfter, new Error('Redis is unreachable'));
      }
      if (keys.length > 0) {
        if (!(await ready())) {
          enterDegraded(new Error(`Redis was not ready within ${connectWaitMs} ms`));
          throw new DetectionUnavailableError(retryAfter, new Error('Redis is not ready'));
        }
        try {
          // One key per DEL: on a cluster the keys live in different slots.
          await withDeadline(Promise.all(keys.map((k) => client.del(k))), timeoutMs * 5);
        } catch (err) {
          enterDegraded(err);
          throw new DetectionUnavailableError(retryAfter, err);
        }
      }
      await options.fallback.clear(keys);
    },
    async close() {
      closed = true;
      client.off('ready', onReconnect);
      if (expiry !== undefined) clearTimeout(expiry);
      await options.fallback.close();
      if (options.ownsClient !== false) {
        try {
          await client.quit();
        } catch {
          client.disconnect();
        }
      }
    },
  };
}
