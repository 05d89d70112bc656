/**
 * In-process window store: exact sliding windows in event time, the same semantics as the Redis store,
 * with a bounded number of keys (least recently used keys are evicted). Used alone for one process and
 * as the fallback while Redis is unreachable.
 * @module
 */
import { evaluateWindow, shouldAlert } from './window.ts';
import type { Events, WindowOutcome, WindowStore } from './window.ts';

export interface MemoryWindowStoreOptions {
  /** Events kept per key (newest win). @default 64 */
  maxEntriesPerKey?: number | undefined;
  /** Keys kept; the least recently used are evicted beyond it. @default 100000 */
  maxKeys?: number | undefined;
}

interface Entry extends Events {
  /** Wall-clock expiry, like Redis' PEXPIRE. */
  expiresAt: number;
}

export function createMemoryWindowStore(options: MemoryWindowStoreOptions = {}): WindowStore & {
  /** Keys currently held (for tests and metrics). */
  readonly size: number;
} {
  const cap = options.maxEntriesPerKey ?? 64;
  const maxKeys = options.maxKeys ?? 100_000;
  // Map iteration order is insertion order: re-inserting on use makes the first key the least recent.
  const keys = new Map<string, Entry>();
  const markers = new Map<string, number>();

  function touch<V>(map: Map<string, V>, key: string, value: V): void {
    map.delete(key);
    map.set(key, value);
    while (map.size > maxKeys) {
      const oldest = map.keys().next().value as string;
      map.delete(oldest);
    }
  }

  function live(key: string, now: number): Entry | undefined {
    const e = keys.get(key);
    if (e && e.expiresAt <= now) {
      keys.delete(key);
      return undefined;
    }
    return e;
  }

  function insert(e: Entry, score: number, entity: string): void {
    // Binary search for the insertion point after equal scores (stable, like Redis' member order).
    let lo = 0;
    let hi = e.scores.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((e.scores[mid] as number) <= score) lo = mid + 1;
      else hi = mid;
    }
    e.scores.splice(lo, 0, score);
    e.entities.splice(lo, 0, entity);
  }

  return {
    get size() {
      return keys.size;
    },
    async apply(ops, at, record) {
      const now = Date.now();
      const results: WindowOutcome[][] = [];
      for (const op of ops) {
        let e = live(op.key, now);
        if (record) {
          if (!e) e = { scores: [], entities: [], expiresAt: 0 };
          let drop = 0;
          while (drop < e.scores.length && (e.scores[drop] as number) < at - op.retentionMs) drop++;
          if (drop) {
            e.scores.splice(0, drop);
            e.entities.splice(0, drop);
          }
          insert(e, at, op.entity);
          if (e.scores.length > cap) {
            const extra = e.scores.length - cap;
            e.scores.splice(0, extra);
            e.entities.splice(0, extra);
          }
          e.expiresAt = now + op.retentionMs;
          touch(keys, op.key, e);
        }
        const ev: Events = e ?? { scores: [], entities: [] };
        const out: WindowOutcome[] = [];
        for (const spec of op.windows) {
          const r = evaluateWindow(ev, at, spec);
          let alert = false;
          if (record && r.count >= spec.threshold) {
            const mk = `${op.key}\u0000${spec.field}`;
            if (shouldAlert(markers.get(mk), at, spec.windowMs)) {
              touch(markers, mk, at);
              alert = true;
            }
          }
          out.push({ ...r, alert });
        }
        results.push(out);
      }
      return results;
    },
    async clear(list) {
      for (const key of list) {
        keys.delete(key);
        for (const mk of [...markers.keys()]) if (mk.startsWith(`${key}\u0000`)) markers.delete(mk);
      }
    },
    async close() {
      keys.clear();
      markers.clear();
    },
  };
}
