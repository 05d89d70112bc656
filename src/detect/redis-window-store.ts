/**
 * Redis window store: the sliding windows live in capped sorted sets shared by every process. One
 * failed login is one EVALSHA round trip (per hash slot on Redis Cluster: IP keys and account keys
 * carry different hash tags and are sent in parallel). When Redis is slow or down, calls fall back to
 * an in-process store at once — a login is never blocked — and Redis is probed again until it returns.
 * @module
 */
import { Redis } from 'ioredis';
import type { Cluster, RedisOptions } from 'ioredis';
import { WINDOW_SCRIPT } from './redis-window-script.ts';
import type { KeyOp, WindowOutcome, WindowStore } from './window.ts';

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

type ScriptClient = (Redis | Cluster) & {
  tgWindow(...args: (string | number)[]): Promise<number[]>;
};

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
  if (typeof (client as Partial<ScriptClient>).tgWindow !== 'function') {
    client.defineCommand('tgWindow', { lua: WINDOW_SCRIPT });
  }
  const isCluster = (client as { isCluster?: boolean }).isCluster === true;
  const probeInterval = options.probeIntervalMs ?? 1000;
  let degraded = false;
  let nextProbe = 0;
  let everReady = client.status === 'ready';
  if (!everReady) client.once('ready', () => (everReady = true));

  function args(ops: KeyOp[], at: number, record: boolean, uniq: string): (string | number)[] {
    const keys: string[] = [];
    const argv: (string | number)[] = [at, record ? 1 : 0, uniq, options.maxEntriesPerKey, ops.length];
    for (const op of ops) {
      keys.push(op.key, op.markerKey);
      argv.push(op.entity, op.retentionMs, op.windows.length);
      for (const w of op.windows) argv.push(w.mode === 'count' ? 'c' : 'd', w.windowMs, w.threshold, w.field);
    }
    return [keys.length, ...keys, ...argv];
  }

  function parse(ops: KeyOp[], flat: number[]): WindowOutcome[][] {
    let i = 0;
    return ops.map((op) =>
      op.windows.map(() => {
        const r = {
          count: Number(flat[i]),
          firstSeenMs: Number(flat[i + 1]),
          releaseMs: Number(flat[i + 2]),
          alert: Number(flat[i + 3]) === 1,
        };
        i += 4;
        return r;
      }),
    );
  }

  async function viaRedis(
    ops: KeyOp[],
    at: number,
    record: boolean,
    uniq: string,
  ): Promise<WindowOutcome[][]> {
    if (!isCluster) return parse(ops, await client.tgWindow(...args(ops, at, record, uniq)));
    // Cluster: a script may only touch one slot. Each op's keys share one hash tag; send them in parallel.
    const parts = await Promise.all(ops.map((op) => client.tgWindow(...args([op], at, record, uniq))));
    return parts.flatMap((flat, k) => parse([ops[k] as KeyOp], flat));
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
