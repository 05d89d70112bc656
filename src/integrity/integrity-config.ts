/**
 * Tamper-evidence settings: the integrity key, automatic sealing and the settle time. Validated once at
 * start; an error names the key.
 * @module
 */
import { TrailguardError } from '../domain/errors.ts';
import { isPlainObject } from '../domain/validation.ts';

/** `integrity` in createTrailguard() options and the config file. */
export interface IntegrityOptions {
  /**
   * HMAC key for seals (at least 16 characters; 32 random bytes recommended). Keep it outside the
   * database (a secret store, `TRAILGUARD_INTEGRITY_KEY`): whoever holds it can re-seal tampered rows.
   * Without a key seals use plain SHA-256 and only detect changes by someone who does not also
   * recompute the seals. Env: `TRAILGUARD_INTEGRITY_KEY`.
   * @default none (SHA-256)
   */
  key?: string | undefined;
  /**
   * Seal automatically every this many seconds, or false for never. The library does not seal unless
   * this is set (several processes embedding it would all seal; run `trailguard integrity seal` from a
   * scheduler, or let one process seal); `trailguard serve` seals every 600 s unless set.
   * @default undefined (library: off; serve: 600)
   * @example { key: process.env.AUDIT_SEAL_KEY, sealIntervalSeconds: 300 }
   */
  sealIntervalSeconds?: number | false | undefined;
  /**
   * A seal covers rows recorded up to this many seconds ago, so batches still being committed are not
   * cut. Must exceed the clock difference between the processes that record and the one that seals
   * (ids carry the recording process's clock), or a late row shows as inserted. @default 60
   */
  settleSeconds?: number | undefined;
}

/** The validated settings. */
export interface ResolvedIntegrityConfig {
  /** Not enumerable (left out of JSON and spreads of the config). */
  readonly key: string | undefined;
  /** undefined: not configured (the server then uses its own default). */
  sealIntervalSeconds: number | false | undefined;
  settleSeconds: number;
}

function configError(field: string, message: string): TrailguardError {
  return new TrailguardError('CONFIG_INVALID', `${field}: ${message}`, { field });
}

/** Validates `integrity` options; `envKey` is TRAILGUARD_INTEGRITY_KEY (an explicit key wins). */
export function resolveIntegrityConfig(raw: unknown, envKey?: string | undefined): ResolvedIntegrityConfig {
  const o = raw === undefined ? {} : raw;
  if (!isPlainObject(o))
    throw configError('integrity', 'must be { key?, sealIntervalSeconds?, settleSeconds? }');
  for (const k of Object.keys(o)) {
    if (!['key', 'sealIntervalSeconds', 'settleSeconds'].includes(k))
      throw configError(`integrity.${k}`, 'unknown key (known: key, sealIntervalSeconds, settleSeconds)');
  }
  const key = o['key'] ?? (envKey === '' ? undefined : envKey);
  if (key !== undefined && (typeof key !== 'string' || key.length < 16))
    throw configError('integrity.key', 'must be a string of at least 16 characters');
  const interval = o['sealIntervalSeconds'];
  if (
    interval !== undefined &&
    interval !== false &&
    (typeof interval !== 'number' || !Number.isFinite(interval) || interval < 1)
  ) {
    throw configError('integrity.sealIntervalSeconds', 'must be a number of seconds, 1 or more, or false');
  }
  const settle = o['settleSeconds'] ?? 60;
  if (typeof settle !== 'number' || !Number.isFinite(settle) || settle < 0)
    throw configError('integrity.settleSeconds', 'must be a number of seconds, 0 or more');
  const resolved = {
    sealIntervalSeconds: interval as number | false | undefined,
    settleSeconds: settle,
  } as ResolvedIntegrityConfig;
  // Not enumerable: `tg.config` may be logged or serialised, the key must not go with it.
  Object.defineProperty(resolved, 'key', { value: key, enumerable: false });
  return resolved;
}
