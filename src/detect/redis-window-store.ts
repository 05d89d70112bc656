/**
 * Redis window store: the sliding windows live in capped, packed strings shared by every process
 * (layout in `redis-window-script.ts`). A failed login is at most one EVALSHA round trip: the calls
 * that arrive together go as one (per hash slot on Redis Cluster, where IP keys and account keys carry
 * different hash tags and each is sent on its own). When Redis is slow or down, calls fall back to an
 * in-process store at once — a login is never blocked — and Redis is probed again until it returns.
 * @module
 */
import { Redis } from 'ioredis';
import type { Cluster, RedisOptions } from 'ioredis';
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
  /** How long a call waits for Redis before it is answered from the fallback. @default 100 */
  timeoutMs?: number | undefined;
  maxEntriesPerKey: number;
  /** Called once when Redis stops answering (and again only after it has recovered). */
  onDegraded?: ((err: unknown) => void) | undefined;
  onRecovered?: (() => void) | undefined;
  /** How long to serve from the fallback before trying Redis again. @default 1000 */
  probeIntervalMs?: number | undefined;
  /** How long the very first call waits for the initial connection. @default 500 */
  firstConnectWaitMs?: number | undefined;
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

export function createRedisWindowStore(options: RedisWindowStoreOptions): WindowStore & {
  /** True while serving from the fallback. */
  readonly degraded: boolean;
} {
  const client = options.client as ScriptClient;
  const cap = options.maxEntriesPerKey;
  const isCluster = (client as { isCluster?: boolean }).isCluster === true;
  const probeInterval = options.probeIntervalMs ?? 1000;
  const timeoutMs = options.timeoutMs ?? 100;
  let degraded = false;
  let nextProbe = 0;
  let everReady = client.status === 'ready';
  if (!everReady) client.once('ready', () => (everReady = true));

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
  interface Batch {
    command: string;
    record: boolean;
    keys: string[];
    args: (string | number)[];
    waiters: { ops: KeyOp[]; resolve(outcomes: WindowOutcome[][]): void; reject(err: unknown): void }[];
    /** performance.now() after which the batch is answered from the fallback. */
    deadline: number;
    /** performance.now() when it was sent. */
    sentAt: number;
    settled: boolean;
  }
  const maxBatch = options.maxBatch ?? 16;
  let open = new Map<string, Batch>();
  let flushScheduled = false;

  // Batches in flight, in the order they were sent (so also by deadline), and the one timer that
  // expires them: it is armed for the oldest deadline and re-armed for the next one when it fires.
  const inFlight = new Set<Batch>();
  let expiry: ReturnType<typeof setTimeout> | undefined;
  function expire(): void {
    expiry = undefined;
    const now = performance.now();
    for (const batch of inFlight) {
      if (batch.deadline > now) {
        arm(batch.deadline - now);
        return;
      }
      settle(batch);
      options.onCall?.((now - batch.sentAt) / 1000, 'timeout');
      const err = new Error(`Redis did not answer within ${timeoutMs} ms`);
      for (const w of batch.waiters) w.reject(err);
    }
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
        if (!settle(batch)) return;
        options.onCall?.((performance.now() - batch.sentAt) / 1000, 'error');
        for (const w of batch.waiters) w.reject(err);
      },
    );
  }

  function flush(): void {
    flushScheduled = false;
    const batches = open;
    open = new Map();
    for (const batch of batches.values()) send(batch);
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
    const result = new Promise<WindowOutcome[][]>((resolve, reject) =>
      batch.waiters.push({ ops, resolve, reject }),
    );
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

  // The first call may come while the client is still connecting: wait for it once, briefly.
  let waited = false;
  async function waitForFirstConnection(): Promise<void> {
    if (waited || everReady || client.status === 'ready') return;
    waited = true;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, options.firstConnectWaitMs ?? 500);
      function done(): void {
        clearTimeout(timer);
        client.off('ready', done);
        resolve();
      }
      client.once('ready', done);
    });
  }

  /** Answers from the fallback after Redis failed, and marks the store degraded (once per outage). */
  function fallBack(err: unknown, ops: KeyOp[], at: number, record: boolean): Promise<WindowOutcome[][]> {
    nextProbe = performance.now() + probeInterval;
    if (!degraded) {
      degraded = true;
      options.onDegraded?.(err);
    }
    return options.fallback.apply(ops, at, record);
  }

  /** Before the first connection, or while degraded: Redis is tried when it may answer again. */
  async function applyDegradedOrFirst(ops: KeyOp[], at: number, record: boolean): Promise<WindowOutcome[][]> {
    if (!degraded) await waitForFirstConnection();
    if (!degraded || (performance.now() >= nextProbe && client.status === 'ready')) {
      let result: WindowOutcome[][];
      try {
        result = await viaRedis(ops, at, record);
      } catch (err) {
        return fallBack(err, ops, at, record);
      }
      if (degraded) {
        degraded = false;
        options.onRecovered?.();
      }
      return result;
    }
    return options.fallback.apply(ops, at, record);
  }

  return {
    get degraded() {
      return degraded;
    },
    apply(ops, at, record) {
      // The usual case, Redis up: the script call's own promise, with the fallback on failure.
      if (!degraded && everReady) {
        return viaRedis(ops, at, record).catch((err: unknown) => fallBack(err, ops, at, record));
      }
      return applyDegradedOrFirst(ops, at, record);
    },
    async clear(keys) {
      await options.fallback.clear(keys);
      if (keys.length === 0) return;
      try {
        // One key per DEL: on a cluster the keys live in different slots.
        await withDeadline(Promise.all(keys.map((k) => client.del(k))), timeoutMs);
      } catch (err) {
        if (!degraded) {
          degraded = true;
          nextProbe = performance.now() + probeInterval;
          options.onDegraded?.(err);
        }
      }
    },
    async close() {
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
