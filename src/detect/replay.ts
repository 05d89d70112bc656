/**
 * What-if replay: runs a log of login attempts through a detection configuration in event time and
 * reports what it would have flagged and refused — above all, how many refusals would have hit people
 * who then logged in successfully from the same address, so a team can tune before it enforces.
 * @module
 */
import { resolveDetectionSettings } from '../domain/security-event.ts';
import type { DetectionPattern, DetectionSettings } from '../domain/security-event.ts';
import { decide } from './decision.ts';
import { createDetector, normalizeAccount } from './detector.ts';
import type { LoginAttempt } from './attempt-log.ts';

/** A signal as the replay saw it raised. */
export interface ReplaySignal {
  at: Date;
  pattern: DetectionPattern;
  /** The address or the account the signal is about. */
  key: string;
  count: number;
}

export interface ReplayReport {
  /** The configuration's own mode; refusals are counted as enforce mode would make them. */
  mode: DetectionSettings['mode'];
  blockOn: DetectionPattern[];
  attempts: number;
  failures: number;
  successes: number;
  /** Event time of the first and last attempt. */
  from: Date | null;
  to: Date | null;
  /** Each signal raised, in event time. */
  signals: ReplaySignal[];
  signalsByPattern: Partial<Record<DetectionPattern, number>>;
  /** Distinct addresses and accounts some signal was about. */
  flaggedIps: number;
  flaggedAccounts: number;
  refused: {
    attempts: number;
    /** Refused attempts whose log outcome was a success: a right password turned away. */
    successes: number;
    ips: number;
    accounts: number;
    /**
     * Refused attempts whose account logged in successfully from the same address at the same time
     * or later: most likely its owner, not an attacker.
     */
    likelyLegitimate: number;
  };
}

const pairKey = (ip: string, username: string) => `${ip}\n${normalizeAccount(username)}`;

/**
 * Replays `attempts` (any order; sorted here by event time, ties kept in log order) through
 * `detection` (the `detection` option of createTrailguard, validated the same way). Successes are
 * let through or refused like failures; a refused attempt is not recorded, as enforce mode would have
 * stopped it before the password was checked.
 */
export async function replayAttempts(
  attempts: readonly LoginAttempt[],
  detection: unknown = {},
): Promise<ReplayReport> {
  const settings = resolveDetectionSettings(detection);
  const sorted = attempts
    .map((a, i) => ({ a, i }))
    .sort((x, y) => x.a.at.getTime() - y.a.at.getTime() || x.i - y.i)
    .map((x) => x.a);
  const lastSuccess = new Map<string, number>();
  for (const a of sorted) if (a.success) lastSuccess.set(pairKey(a.ip, a.username), a.at.getTime());

  const detector = createDetector({
    patterns: settings,
    maxKeys: settings.maxKeys,
    // Event time comes with every call; the clock is never read.
    clock: { now: () => sorted[0]?.at ?? new Date(0) },
  });
  const report: ReplayReport = {
    mode: settings.mode,
    blockOn: settings.blockOn,
    attempts: sorted.length,
    failures: 0,
    successes: 0,
    from: sorted[0]?.at ?? null,
    to: sorted[sorted.length - 1]?.at ?? null,
    signals: [],
    signalsByPattern: {},
    flaggedIps: 0,
    flaggedAccounts: 0,
    refused: { attempts: 0, successes: 0, ips: 0, accounts: 0, likelyLegitimate: 0 },
  };
  const flaggedIps = new Set<string>();
  const flaggedAccounts = new Set<string>();
  const refusedIps = new Set<string>();
  const refusedAccounts = new Set<string>();
  const enforce = { mode: 'enforce' as const, blockOn: settings.blockOn };
  try {
    for (const a of sorted) {
      const atMs = a.at.getTime();
      if (a.success) report.successes += 1;
      else report.failures += 1;
      const decision =
        settings.enabled && settings.blockOn.length > 0
          ? decide(await detector.check({ ip: a.ip, username: a.username, at: a.at }), enforce, atMs)
          : { allowed: true };
      if (!decision.allowed) {
        const r = report.refused;
        r.attempts += 1;
        if (a.success) r.successes += 1;
        refusedIps.add(a.ip);
        refusedAccounts.add(normalizeAccount(a.username));
        if ((lastSuccess.get(pairKey(a.ip, a.username)) ?? -Infinity) >= atMs) r.likelyLegitimate += 1;
        continue;
      }
      if (a.success || !settings.enabled) continue;
      const result = await detector.recordFailure({ ip: a.ip, username: a.username, at: a.at });
      for (const s of result.newSignals) {
        report.signals.push({ at: a.at, pattern: s.pattern, key: s.key, count: s.count });
        report.signalsByPattern[s.pattern] = (report.signalsByPattern[s.pattern] ?? 0) + 1;
        if (s.pattern === 'distributed_attack') flaggedAccounts.add(normalizeAccount(s.key));
        else flaggedIps.add(s.key);
      }
    }
  } finally {
    await detector.close();
  }
  report.flaggedIps = flaggedIps.size;
  report.flaggedAccounts = flaggedAccounts.size;
  report.refused.ips = refusedIps.size;
  report.refused.accounts = refusedAccounts.size;
  return report;
}
