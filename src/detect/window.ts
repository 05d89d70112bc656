/**
 * The sliding-window arithmetic both stores share. This is the reference: the in-process store runs it
 * as is; the Redis Lua script (`redis-window-script.ts`) computes the same outcomes with an O(n) sweep,
 * and `test/detect/detector.test.ts` checks both give identical outcomes on shuffled, late and capped events.
 * A key holds raw events `(score = event time ms, entity)`; a pattern looks at the windows of its length
 * that contain the new event and start at an event, and takes the largest count (or number of distinct
 * entities). In order, that is exactly the trailing window `(at − W, at]`; out of order, a late event
 * still completes the window it belongs to.
 * @module
 */

/** One pattern evaluated over a key. */
export interface WindowSpec {
  /** `count` counts events; `distinct` counts distinct entities. */
  mode: 'count' | 'distinct';
  windowMs: number;
  threshold: number;
  /** Names the pattern in the alert marker (one alert per pattern and key per window). */
  field: string;
}

/** Work on one key: optionally add an event, then evaluate its patterns. */
export interface KeyOp {
  /** The key (with its cluster hash tag); it also holds the time of each pattern's last alert. */
  key: string;
  /** What the distinct count counts (account hash for an IP key, IP for an account key). */
  entity: string;
  /** How long events are kept: the longest window plus the allowed lateness. */
  retentionMs: number;
  windows: WindowSpec[];
}

/** The outcome of one pattern on one key. */
export interface WindowOutcome {
  count: number;
  /** Event time of the first event in the counted window (0 below the threshold). */
  firstSeenMs: number;
  /** When the count falls below the threshold again (0 when it is below already). */
  releaseMs: number;
  /** True when this event tripped the pattern for the first time in its window. */
  alert: boolean;
}

/** A store of windows: in-process or Redis. */
export interface WindowStore {
  /** Adds the event (when `record`) and evaluates every op; one outcome list per op. */
  apply(ops: KeyOp[], atMs: number, record: boolean): Promise<WindowOutcome[][]>;
  /** Forgets keys (and their alert times). */
  clear(keys: string[]): Promise<void>;
  close(): Promise<void>;
}

/** Events of a key, sorted by score. */
export interface Events {
  scores: number[];
  entities: string[];
}

/** Evaluates one pattern over the events of a key (sorted by score). */
export function evaluateWindow(
  ev: Events,
  at: number,
  spec: WindowSpec,
): { count: number; firstSeenMs: number; releaseMs: number } {
  const { scores, entities } = ev;
  const n = scores.length;
  const win = spec.windowMs;
  const inOrder = n === 0 || (scores[n - 1] as number) <= at;
  let best = 0;
  let bestI = -1;
  for (let i = 0; i < n; i++) {
    const s = scores[i] as number;
    if (s <= at - win) continue;
    if (s > at) break;
    const end = s + win;
    let c = 0;
    const seen = spec.mode === 'distinct' ? new Set<string>() : null;
    for (let j = i; j < n && (scores[j] as number) < end; j++) {
      if (seen) {
        const e = entities[j] as string;
        if (!seen.has(e)) {
          seen.add(e);
          c++;
        }
      } else c++;
    }
    if (c > best) {
      best = c;
      bestI = i;
    }
    // In order, the first start gives the trailing window, which holds every other candidate.
    if (inOrder) break;
  }
  // Below the threshold only the count matters (and is all the Redis script returns).
  if (bestI < 0 || best < spec.threshold) return { count: best, firstSeenMs: 0, releaseMs: 0 };
  // The count falls below the threshold when the (count − threshold + 1)-th oldest contributor expires;
  // for distinct counts an entity contributes its latest event in the window.
  const start = scores[bestI] as number;
  const end = start + win;
  const latest = new Map<string, number>();
  let k = 0;
  for (let j = bestI; j < n && (scores[j] as number) < end; j++) {
    latest.set(spec.mode === 'distinct' ? (entities[j] as string) : String(k++), scores[j] as number);
  }
  const times = [...latest.values()].sort((a, b) => a - b);
  const releaseMs = (times[best - spec.threshold] as number) + win;
  return { count: best, firstSeenMs: start, releaseMs };
}

/** True when a pattern that is over its threshold should raise an alert given the last one's time. */
export function shouldAlert(lastAlertMs: number | undefined, at: number, windowMs: number): boolean {
  return lastAlertMs === undefined || at >= lastAlertMs + windowMs || at < lastAlertMs - windowMs;
}
