/**
 * Redis window store: the sliding windows live in capped sorted sets shared by every process. One
 * failed login is one EVALSHA round trip (per hash slot on Redis Cluster: IP keys and account keys
 * carry different hash tags and are sent in parallel). When Redis is slow or down, calls fall back to
 * an in-process store at once — a login is never blocked — and Redis is probed again until it returns.
 * @module
 */
import { Redis } from 'ioredis';
import type { Cluster, RedisOptions } from 'ioredis';
import { generateWindowScript } from './redis-window-script.ts';
import type { KeyOp, WindowOutcome, WindowSpec, WindowStore } from './window.ts';

/** Connection options for detection: fail fast, never queue commands while disconnected. */
export function detectionRedisOptions(timeoutMs: number): RedisOptions {
  return {
    enableOfflineQueue: false,
    commandTimeout: timeoutMs,
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

export interface RedisWindowStoreOptions {
  client: Redis | Cluster;
  /** Used while Redis is unreachable. */
  fallback: WindowStore;
  maxEntriesPerKey: number;
  /** Called once when Redis stops answering (and again only after it has recovered). */
  onDegraded?: ((err: unknown) => void) | undefined;
  onRecovered?: (() => void) | undefined;
  /** How long to serve from the fallback before trying Redis again. @default 1000 */
  probeIntervalMs?: number | undefined;
  /** How long the very first call waits for the initial connection. @default 500 */
  firstConnectWaitMs?: number | undefined;
  /** Close the client on close(). @default true */
  ownsClient?: boolean | undefined;
}

export function createRedisWindowStore(options: RedisWindowStoreOptions): WindowStore & {
  /** True while serving from the fallback. */
  readonly degraded: boolean;
} {
  const client = options.client as ScriptClient;
  const cap = options.maxEntriesPerKey;
  const isCluster = (client as { isCluster?: boolean }).isCluster === true;
  const probeInterval = options.probeIntervalMs ?? 1000;
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
      if (typeof client[name] !== 'function') {
        client.defineCommand(name, { lua: script.lua, numberOfKeys: script.numberOfKeys });
      }
      commands.set(shape, name);
    }
    return name;
  }

  async function call(ops: KeyOp[], at: number, record: boolean, uniq: string): Promise<number[]> {
    const args: (string | number)[] = [];
    for (const op of ops) args.push(op.key, op.markerKey);
    args.push(at, record ? '1' : '0', uniq);
    for (const op of ops) args.push(op.entity);
    const fn = client[commandFor(ops)] as (...a: (string | number)[]) => Promise<number[]>;
    return fn.apply(client, args);
  }

  function parse(ops: KeyOp[], flat: number[], into: WindowOutcome[][]): void {
    let i = 0;
    for (const op of ops) {
      const outcomes: WindowOutcome[] = [];
      for (let w = 0; w < op.windows.length; w++, i += 4) {
        outcomes.push({
          count: Number(flat[i]),
          firstSeenMs: Number(flat[i + 1]),
          releaseMs: Number(flat[i + 2]),
          alert: Number(flat[i + 3]) === 1,
        });
      }
      into.push(outcomes);
    }
  }

  async function viaRedis(
    ops: KeyOp[],
    at: number,
    record: boolean,
    uniq: string,
  ): Promise<WindowOutcome[][]> {
    const out: WindowOutcome[][] = [];
    if (!isCluster) {
      parse(ops, await call(ops, at, record, uniq), out);
      return out;
    }
    // Cluster: a script may only touch one slot. Each op's keys share one hash tag; send them in parallel.
    const parts = await Promise.all(ops.map((op) => call([op], at, record, uniq)));
    parts.forEach((flat, k) => parse([ops[k] as KeyOp], flat, out));
    return out;
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

  return {
    get degraded() {
      return degraded;
    },
    async apply(ops, at, record, uniq) {
      if (!degraded) await waitForFirstConnection();
      const now = performance.now();
      if (!degraded || (now >= nextProbe && client.status === 'ready')) {
        try {
          const result = await viaRedis(ops, at, record, uniq);
          if (degraded) {
            degraded = false;
            options.onRecovered?.();
          }
          return result;
        } catch (err) {
          nextProbe = performance.now() + probeInterval;
          if (!degraded) {
            degraded = true;
            options.onDegraded?.(err);
          }
        }
      }
      return options.fallback.apply(ops, at, record, uniq);
    },
    async clear(keys) {
      await options.fallback.clear(keys);
      if (keys.length === 0) return;
      try {
        // One key per DEL: on a cluster the keys live in different slots.
        await Promise.all(keys.map((k) => client.del(k)));
      } catch (err) {
        if (!degraded) {
          degraded = true;
          nextProbe = performance.now() + probeInterval;
          options.onDegraded?.(err);
        }
      }
    },
    async close() {
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
