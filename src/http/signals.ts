/**
 * Active signals: what detection concluded recently and still holds. Read from the stored
 * `suspicious_activity` events (one per pattern and key per window), so every server sharing the
 * database answers the same.
 * @module
 */
import { DETECTION_PATTERNS } from '../domain/security-event.ts';
import type { DetectionPattern } from '../domain/security-event.ts';
import type { Trailguard } from '../trailguard.ts';

/** How long an `impossible_travel` signal stays active (it has no sliding window of its own). */
export const TRAVEL_SIGNAL_SECONDS = 24 * 3600;

/** Most `suspicious_activity` events read per request. */
const MAX_SCANNED = 5000;

/** One active signal. */
export interface ActiveSignal {
  pattern: DetectionPattern;
  /** The IP address (brute_force, account_enumeration) or the account (the others). */
  key: string;
  count: number;
  threshold: number;
  windowSeconds: number;
  firstSeenAt: Date;
  /** When the `suspicious_activity` event was raised (event time). */
  raisedAt: Date;
  /** When the signal stops being active unless it is raised again. */
  expiresAt: Date;
  /** The `suspicious_activity` event. */
  eventId: string;
}

/** How long a pattern's signal stays active, in seconds; null for patterns that raise no alert. */
export function activeSecondsOf(tg: Trailguard, pattern: DetectionPattern): number | null {
  const d = tg.config.detection;
  const windowed = {
    brute_force: d.bruteForce,
    distributed_attack: d.distributedAttack,
    account_enumeration: d.accountEnumeration,
  } as const;
  if (pattern === 'impossible_travel') return TRAVEL_SIGNAL_SECONDS;
  if (pattern === 'new_country') return null;
  const p = windowed[pattern];
  return p === false ? null : p.windowSeconds;
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/**
 * Signals raised within their window (impossible travel: 24 h) before `now`, newest first, one per
 * pattern and key.
 */
export async function activeSignals(tg: Trailguard, now: Date, limit = 100): Promise<ActiveSignal[]> {
  const lifetimes = DETECTION_PATTERNS.map((p) => activeSecondsOf(tg, p) ?? 0);
  const horizon = Math.max(...lifetimes) * 1000;
  const out: ActiveSignal[] = [];
  const seen = new Set<string>();
  let cursor: string | null = null;
  let scanned = 0;
  do {
    const page = await tg.security.events({
      type: 'suspicious_activity',
      from: new Date(now.getTime() - horizon),
      to: new Date(now.getTime() + 1),
      limit: 1000,
      cursor,
    });
    for (const e of page.items) {
      const pattern = e.context['pattern'];
      if (typeof pattern !== 'string' || !(DETECTION_PATTERNS as readonly string[]).includes(pattern))
        continue;
      const seconds = activeSecondsOf(tg, pattern as DetectionPattern);
      if (seconds === null) continue;
      const expiresAt = new Date(e.occurredAt.getTime() + seconds * 1000);
      if (expiresAt <= now) continue;
      const key = typeof e.context['key'] === 'string' ? e.context['key'] : (e.ipAddress ?? '');
      const id = `${pattern}\u0000${key}`;
      if (seen.has(id)) continue;
      seen.add(id);
      const first =
        typeof e.context['first_seen_at'] === 'string' ? new Date(e.context['first_seen_at']) : null;
      out.push({
        pattern: pattern as DetectionPattern,
        key,
        count: num(e.context['count']),
        threshold: num(e.context['threshold']),
        windowSeconds: num(e.context['window_seconds']),
        firstSeenAt: first && !Number.isNaN(first.getTime()) ? first : e.occurredAt,
        raisedAt: e.occurredAt,
        expiresAt,
        eventId: e.id,
      });
      if (out.length >= limit) return out;
    }
    scanned += page.items.length;
    cursor = page.nextCursor;
  } while (cursor !== null && scanned < MAX_SCANNED);
  return out;
}
