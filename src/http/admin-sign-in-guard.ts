/**
 * Brute-force protection of the admin sign-in, on counters of its own. The application's detection
 * counters are fed by whatever ingest keys send (any username, any address), so they cannot decide
 * who may sign in to Trailguard itself: ten ingested failures for `admin` would lock every admin out.
 * This guard counts only the server's own failed sign-ins, in a detector of its own (Redis keys under
 * `<detection.keyPrefix>admin:`, or in-process), with the application's detection patterns — or,
 * with detection turned off, the `lockout` threshold per address and per account.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { createDetector } from '../detect/detector.ts';
import type { Detector } from '../detect/detector.ts';
import type { DetectionPattern } from '../domain/security-event.ts';
import { createSecurityRepository } from '../security/security-repository.ts';
import type { Trailguard } from '../trailguard.ts';

/** Whether sign-in is refused, and for how long. */
export interface AdminLock {
  locked: boolean;
  retryAfterSeconds: number;
  /** The tripped patterns. */
  reasons: DetectionPattern[];
}

/** The admin sign-in's own failure counters. */
export interface AdminSignInGuard {
  /** Whether sign-ins from `ip` or for `username` are refused now. */
  state(ip: string, username: string): Promise<AdminLock>;
  /** Counts a failed sign-in and answers the state after it. */
  fail(ip: string, username: string): Promise<AdminLock>;
  /** Forgets the failures of an address and/or account (`POST /security/reset`). */
  reset(input: { ip?: string | undefined; username?: string | undefined }): Promise<void>;
  close(): Promise<void>;
}

/** Detection patterns that refuse an admin sign-in from the address or for the account. */
export const ADMIN_BLOCK_ON: readonly DetectionPattern[] = [
  'brute_force',
  'account_enumeration',
  'distributed_attack',
];

export interface AdminSignInGuardOptions {
  /** With detection turned off: failed sign-ins per address, or addresses per account, that lock. */
  threshold: number;
  /** With detection turned off: the window, ms. */
  windowMs: number;
  /** Redis for counters shared by every server. @default in-process */
  redisUrl?: string | undefined;
}

export async function createAdminSignInGuard(
  tg: Trailguard,
  options: AdminSignInGuardOptions,
): Promise<AdminSignInGuard> {
  const d = tg.config.detection;
  const windowSeconds = Math.max(1, Math.ceil(options.windowMs / 1000));
  const own = { threshold: options.threshold, windowSeconds };
  // Processes sharing Redis must hash accounts alike; the key is the application detector's.
  const secret =
    d.accountKeySecret ??
    (await createSecurityRepository(tg.database.db).secret(
      'detection_account_key',
      randomBytes(32).toString('base64url'),
    ));
  const detector: Detector = createDetector({
    redisUrl: options.redisUrl,
    patterns: d.enabled
      ? d
      : { bruteForce: own, distributedAttack: own, accountEnumeration: false, maxEntriesPerKey: 64 },
    clock: tg.config.clock,
    keyPrefix: `${d.keyPrefix}admin:`,
    accountKeySecret: secret,
    redisTimeoutMs: d.redisTimeoutMs,
    maxKeys: 10_000,
    logger: tg.internals.logger,
  });

  async function state(ip: string, username: string): Promise<AdminLock> {
    const c = await detector.check({ ip, username });
    const reasons = [...new Set(c.signals.map((s) => s.pattern))].filter((p) => ADMIN_BLOCK_ON.includes(p));
    if (reasons.length === 0) return { locked: false, retryAfterSeconds: 0, reasons };
    const now = tg.config.clock.now().getTime();
    let retry = 1;
    for (const p of reasons) {
      const at = c.releaseAt[p];
      if (at) retry = Math.max(retry, Math.ceil((at.getTime() - now) / 1000));
    }
    return { locked: true, retryAfterSeconds: retry, reasons };
  }

  return {
    state,
    async fail(ip, username) {
      await detector.recordFailure({ ip, username });
      return state(ip, username);
    },
    async reset(input) {
      await detector.reset(input);
    },
    close: () => detector.close(),
  };
}
