/**
 * The attack detector: brute force, distributed attack and account enumeration over exact sliding
 * windows in event time, on Redis (shared by every process) or in-process. Usable alone
 * (`trailguard/detect`) or through `tg.security`.
 * @module
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { Clock } from '../domain/clock.ts';
import { systemClock } from '../domain/clock.ts';
import { invalid } from '../domain/errors.ts';
import { resolvePatterns } from '../domain/security-event.ts';
import type {
  DetectionCounts,
  DetectionPattern,
  DetectionResult,
  FailurePatterns,
  Signal,
  WindowPattern,
} from '../domain/security-event.ts';
import { normalizeIp, parseDate, truncate } from '../domain/validation.ts';
import { createMemoryWindowStore } from './memory-window-store.ts';
import { connectDetectionRedis, createRedisWindowStore } from './redis-window-store.ts';
import type { RedisCallOutcome } from './redis-window-store.ts';
import type { KeyOp, WindowOutcome, WindowSpec, WindowStore } from './window.ts';

export type { RedisCallOutcome } from './redis-window-store.ts';

/** The diagnostics the detector writes (pino's shape). */
export interface DetectorLogger {
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
}

/** Options for `createDetector()`. */
export interface DetectorOptions {
  /** Shared state in Redis. @default in-process state */
  redisUrl?: string | undefined;
  /** An existing ioredis client or cluster instead of `redisUrl` (left open by `close()`). */
  redis?: Redis | Cluster | undefined;
  /**
   * Thresholds and windows; a pattern set to `false` is off.
   * @default { bruteForce: { threshold: 5, windowSeconds: 900 }, distributedAttack: { threshold: 10, windowSeconds: 1800 }, accountEnumeration: { threshold: 20, windowSeconds: 600 } }
   */
  patterns?:
    | {
        bruteForce?: Partial<WindowPattern> | false | undefined;
        distributedAttack?: Partial<WindowPattern> | false | undefined;
        accountEnumeration?: Partial<WindowPattern> | false | undefined;
        /** How late an event may arrive and still count. @default 300 */
        maxLatenessSeconds?: number | undefined;
        /** Events kept per key (≥ every threshold, ≤ 128). @default 64 */
        maxEntriesPerKey?: number | undefined;
      }
    | undefined;
  /** Default event time for calls without `at`. @default the system clock */
  clock?: Clock | undefined;
  /** Redis key prefix. @default 'tg:' */
  keyPrefix?: string | undefined;
  /**
   * HMAC key for account keys: accounts are stored as a keyed hash, never as the email. Processes that
   * share Redis must share it. @default a random key per process
   */
  accountKeySecret?: string | Buffer | undefined;
  /**
   * How long Redis may take to answer once a call is written before the in-process state answers it
   * (time the process itself spends busy is not counted). @default 100
   */
  redisTimeoutMs?: number | undefined;
  /** Keys the in-process store keeps. @default 100000 */
  maxKeys?: number | undefined;
  /**
   * Receives `detection_degraded` and `detection_recovered`, both at warn: a log filtered at one level
   * shows the recovery whenever it shows the outage.
   */
  logger?: DetectorLogger | undefined;
  /** Called when Redis stops answering (once per outage). */
  onDegraded?: ((err: unknown) => void) | undefined;
  /** Called when Redis answers again. */
  onRecovered?: (() => void) | undefined;
}

/** A failed login to record. */
export interface FailureInput {
  ip: string;
  username: string;
  /** Event time. @default now */
  at?: Date | string | number | undefined;
}

/** What `check()` reports without recording anything. */
export interface DetectionCheck {
  suspicious: boolean;
  signals: Signal[];
  counts: DetectionCounts;
  /** When each tripped pattern falls below its threshold again. */
  releaseAt: Partial<Record<DetectionPattern, Date>>;
}

export interface Detector {
  /** Records one failed login and evaluates the three patterns (one Redis round trip). */
  recordFailure(input: FailureInput): Promise<DetectionResult>;
  /** Evaluates the patterns for an IP and/or account at `at` (default now) without recording. */
  check(input: {
    ip?: string | undefined;
    username?: string | undefined;
    at?: Date | string | number | undefined;
  }): Promise<DetectionCheck>;
  /**
   * Forgets the failures of an IP and/or account (an admin lockout reset). With Redis unreachable it
   * rejects with `DETECTION_UNAVAILABLE` (503, `retryAfterSeconds`) and resets nothing.
   */
  reset(input: { ip?: string | undefined; username?: string | undefined }): Promise<void>;
  /**
   * Resolves once Redis is ready (true), or false when the connect wait ran out or there is no Redis;
   * calls made before then wait for it too, so awaiting this is optional.
   */
  ready(): Promise<boolean>;
  /**
   * The subject a windowed signal is about, the same in every process sharing the account key secret:
   * `i:<address>`, or `a:<account's keyed hash>` (never the typed username). Keys the store-side claim
   * that keeps one signal event per window across processes.
   */
  signalSubject(signal: Signal): string;
  /** `redis` or `memory`. */
  readonly backend: 'redis' | 'memory';
  /** True while Redis is unreachable and in-process state is used. */
  readonly degraded: boolean;
  /**
   * Subscribes to Redis script calls (for metrics): each call's duration in seconds and whether Redis
   * answered, failed or was too slow. Never called with in-process state. Returns the unsubscribe.
   */
  onRedisCall(listener: (seconds: number, outcome: RedisCallOutcome) => void): () => void;
  close(): Promise<void>;
}

/** Normalises an identifier so `Alice@Example.com ` and `alice@example.com` are one account. */
export function normalizeAccount(username: string): string {
  return username.trim().normalize('NFC').toLowerCase();
}

/** Accounts per generation of the HMAC cache (two generations: at most twice this many are kept). */
const ACCOUNT_CACHE_GENERATION = 8192;

const PATTERN_FIELD = { brute_force: 'bf', distributed_attack: 'da', account_enumeration: 'en' } as const;

export function createDetector(options: DetectorOptions = {}): Detector {
  const patterns = resolvePatterns(options.patterns, 'patterns');
  const clock = options.clock ?? systemClock;
  const prefix = options.keyPrefix ?? 'tg:';
  const secret = options.accountKeySecret ?? randomBytes(32);
  const timeoutMs = options.redisTimeoutMs ?? 100;
  const latenessMs = patterns.maxLatenessSeconds * 1000;
  const memory = createMemoryWindowStore({
    maxEntriesPerKey: patterns.maxEntriesPerKey,
    maxKeys: options.maxKeys,
  });
  let store: WindowStore & { degraded?: boolean; ready?: () => Promise<boolean> } = memory;
  const callListeners = new Set<(seconds: number, outcome: RedisCallOutcome) => void>();
  let backend: 'redis' | 'memory' = 'memory';
  if (options.redis || options.redisUrl) {
    backend = 'redis';
    store = createRedisWindowStore({
      client: options.redis ?? connectDetectionRedis(options.redisUrl as string, timeoutMs),
      ownsClient: options.redis === undefined,
      fallback: memory,
      timeoutMs,
      maxEntriesPerKey: patterns.maxEntriesPerKey,
      onCall(seconds, outcome) {
        for (const listener of callListeners) listener(seconds, outcome);
      },
      onDegraded(err) {
        options.logger?.warn(
          { event: 'detection_degraded', err: (err as Error)?.message ?? String(err) },
          'detection_degraded: Redis is unreachable; detection continues on in-process state',
        );
        options.onDegraded?.(err);
      },
      onRecovered() {
        options.logger?.warn({ event: 'detection_recovered' }, 'detection_recovered: Redis answers again');
        options.onRecovered?.();
      },
    });
  }

  // Attacks repeat accounts; a bounded cache spares the HMAC (the largest JS cost per failure) on the
  // hot path. Two generations approximate LRU without per-hit bookkeeping: a hit in the old generation
  // is promoted, and when the young one is full it becomes the old one.
  let young = new Map<string, string>();
  let old = new Map<string, string>();
  function accountHash(account: string): string {
    let h = young.get(account);
    if (h !== undefined) return h;
    h = old.get(account);
    if (h === undefined) {
      h = createHmac('sha256', secret).update(account, 'utf8').digest('base64url').slice(0, 16);
    }
    if (young.size >= ACCOUNT_CACHE_GENERATION) {
      old = young;
      young = new Map();
    }
    young.set(account, h);
    return h;
  }

  // `:w` marks the packed-window layout; the keys of earlier releases (a sorted set without the suffix
  // and a `:m` marker hash) are left to expire and are only ever deleted, by reset().
  const ipKey = (ip: string) => `${prefix}{i:${ip}}:w`;
  const accountKey = (hash: string) => `${prefix}{a:${hash}}:w`;
  const legacyKeys = (key: string) => {
    const base = key.slice(0, -2);
    return [base, `${base}:m`];
  };

  function spec(p: WindowPattern | false, mode: WindowSpec['mode'], field: string): WindowSpec[] {
    return p === false ? [] : [{ mode, windowMs: p.windowSeconds * 1000, threshold: p.threshold, field }];
  }
  const ipWindows = [
    ...spec(patterns.bruteForce, 'count', PATTERN_FIELD.brute_force),
    ...spec(patterns.accountEnumeration, 'distinct', PATTERN_FIELD.account_enumeration),
  ];
  const accountWindows = spec(patterns.distributedAttack, 'distinct', PATTERN_FIELD.distributed_attack);
  const retention = (ws: WindowSpec[]) => Math.max(0, ...ws.map((w) => w.windowMs)) + latenessMs;
  const ipRetention = retention(ipWindows);
  const accountRetention = retention(accountWindows);

  function ipOp(ip: string, entity: string): KeyOp | null {
    if (ipWindows.length === 0) return null;
    const key = ipKey(ip);
    return { key, entity, retentionMs: ipRetention, windows: ipWindows };
  }
  function accountOp(hash: string, ip: string): KeyOp | null {
    if (accountWindows.length === 0) return null;
    const key = accountKey(hash);
    return { key, entity: ip, retentionMs: accountRetention, windows: accountWindows };
  }

  function parseIp(value: unknown): string {
    if (value === undefined || value === null || value === '') throw invalid('ip', 'is required');
    if (typeof value !== 'string') throw invalid('ip', 'must be a string');
    const ip = normalizeIp(value);
    if (ip === null) throw invalid('ip', `'${truncate(value, 64)}' is not an IP address`);
    return ip;
  }
  function parseUser(value: unknown): string {
    if (typeof value !== 'string' || value.trim() === '')
      throw invalid('username', 'must be a non-empty string');
    return value.trim();
  }

  interface Evaluated {
    signals: Signal[];
    newSignals: Signal[];
    counts: DetectionCounts;
    releaseAt: Partial<Record<DetectionPattern, Date>>;
  }

  function patternOf(field: string): DetectionPattern {
    return field === PATTERN_FIELD.brute_force
      ? 'brute_force'
      : field === PATTERN_FIELD.account_enumeration
        ? 'account_enumeration'
        : 'distributed_attack';
  }

  function interpret(ops: KeyOp[], labels: string[], results: WindowOutcome[][]): Evaluated {
    const out: Evaluated = {
      signals: [],
      newSignals: [],
      counts: { failedAttemptsFromIp: 0, uniqueIpsForAccount: 0, uniqueAccountsFromIp: 0 },
      releaseAt: {},
    };
    for (let i = 0; i < ops.length; i++) {
      const windows = (ops[i] as KeyOp).windows;
      const outcomes = results[i];
      if (!outcomes) continue;
      for (let j = 0; j < windows.length; j++) {
        const w = windows[j] as WindowSpec;
        const r = outcomes[j];
        if (!r) continue;
        const pattern = patternOf(w.field);
        if (pattern === 'brute_force') out.counts.failedAttemptsFromIp = r.count;
        else if (pattern === 'account_enumeration') out.counts.uniqueAccountsFromIp = r.count;
        else out.counts.uniqueIpsForAccount = r.count;
        if (r.count < w.threshold) continue;
        const signal: Signal = {
          pattern,
          key: labels[i] as string,
          count: r.count,
          threshold: w.threshold,
          windowSeconds: w.windowMs / 1000,
          firstSeenAt: new Date(r.firstSeenMs),
        };
        out.signals.push(signal);
        if (r.alert) out.newSignals.push(signal);
        if (r.releaseMs > 0) out.releaseAt[pattern] = new Date(r.releaseMs);
      }
    }
    return out;
  }

  return {
    get backend() {
      return backend;
    },
    get degraded() {
      return store.degraded === true;
    },
    onRedisCall(listener) {
      callListeners.add(listener);
      return () => callListeners.delete(listener);
    },

    // Not async: the store's promise is returned as is (one promise layer less per failure); bad input
    // still rejects rather than throws.
    recordFailure(input) {
      let ops: KeyOp[];
      let labels: string[];
      let atMs: number;
      try {
        if (typeof input !== 'object' || input === null)
          throw invalid('input', 'recordFailure() takes { ip, username, at? }');
        const ip = parseIp(input.ip);
        const username = parseUser(input.username);
        atMs = input.at === undefined ? clock.now().getTime() : parseDate(input.at, 'at').getTime();
        const hash = accountHash(normalizeAccount(username));
        ops = [];
        labels = [];
        const a = ipOp(ip, hash.slice(0, 12));
        if (a) {
          ops.push(a);
          labels.push(ip);
        }
        const b = accountOp(hash, ip);
        if (b) {
          ops.push(b);
          labels.push(username);
        }
      } catch (err) {
        return Promise.reject(err as Error);
      }
      const done = (results: WindowOutcome[][]): DetectionResult => {
        const r = interpret(ops, labels, results);
        return {
          suspicious: r.signals.length > 0,
          signals: r.signals,
          counts: r.counts,
          newSignals: r.newSignals,
        };
      };
      return ops.length ? store.apply(ops, atMs, true).then(done) : Promise.resolve(done([]));
    },

    async check(input) {
      if (typeof input !== 'object' || input === null)
        throw invalid('input', 'check() takes { ip?, username? }');
      if (input.ip === undefined && input.username === undefined)
        throw invalid('ip', 'give an ip, a username or both');
      const at = input.at === undefined ? clock.now() : parseDate(input.at, 'at');
      const ops: KeyOp[] = [];
      const labels: string[] = [];
      if (input.ip !== undefined) {
        const ip = parseIp(input.ip);
        const a = ipOp(ip, '');
        if (a) {
          ops.push(a);
          labels.push(ip);
        }
      }
      if (input.username !== undefined) {
        const username = parseUser(input.username);
        const b = accountOp(accountHash(normalizeAccount(username)), '');
        if (b) {
          ops.push(b);
          labels.push(username);
        }
      }
      const results = ops.length ? await store.apply(ops, at.getTime(), false) : [];
      const r = interpret(ops, labels, results);
      return {
        suspicious: r.signals.length > 0,
        signals: r.signals,
        counts: r.counts,
        releaseAt: r.releaseAt,
      };
    },

    async reset(input) {
      if (typeof input !== 'object' || input === null)
        throw invalid('input', 'reset() takes { ip?, username? }');
      if (input.ip === undefined && input.username === undefined)
        throw invalid('ip', 'give an ip, a username or both');
      const keys: string[] = [];
      if (input.ip !== undefined) {
        const k = ipKey(parseIp(input.ip));
        keys.push(k, ...legacyKeys(k));
      }
      if (input.username !== undefined) {
        const k = accountKey(accountHash(normalizeAccount(parseUser(input.username))));
        keys.push(k, ...legacyKeys(k));
      }
      await store.clear(keys);
    },

    ready: () => (store.ready ? store.ready() : Promise.resolve(false)),

    signalSubject(signal) {
      return signal.pattern === 'distributed_attack'
        ? `a:${accountHash(normalizeAccount(signal.key))}`
        : `i:${signal.key}`;
    },

    close: () => store.close(),
  };
}

export type { FailurePatterns };
