/**
 * Turns what the detector sees into a decision: monitor mode never refuses; enforce mode refuses while
 * a pattern listed in `blockOn` is over its threshold, until the window lets it go again.
 * @module
 */
import type { DetectionPattern } from '../domain/security-event.ts';
import type { DetectionCheck } from './detector.ts';

/** What a caller should do with a login attempt before verifying its password. */
export interface Decision {
  /** False only in `enforce` mode, for a pattern listed in `blockOn`. */
  allowed: boolean;
  /** With `allowed: false`: seconds until the attempt would be let through again (at least 1). */
  retryAfterSeconds?: number;
  /** Every pattern over its threshold for the address or the account. */
  reasons: DetectionPattern[];
}

/** The part of the detection settings a decision depends on. */
export interface DecisionPolicy {
  mode: 'monitor' | 'enforce';
  blockOn: readonly DetectionPattern[];
}

/** Decides on `check` at `nowMs`. */
export function decide(check: DetectionCheck, policy: DecisionPolicy, nowMs: number): Decision {
  const reasons = [...new Set(check.signals.map((x) => x.pattern))];
  const blocking = reasons.filter((r) => policy.blockOn.includes(r));
  if (policy.mode === 'monitor' || blocking.length === 0) return { allowed: true, reasons };
  let retry = 1;
  for (const p of blocking) {
    const at = check.releaseAt[p];
    if (at) retry = Math.max(retry, Math.ceil((at.getTime() - nowMs) / 1000));
  }
  return { allowed: false, retryAfterSeconds: retry, reasons };
}
