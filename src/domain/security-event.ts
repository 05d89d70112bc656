/**
 * Security events: the type taxonomy, categories, severities and the escalation rules, plus the
 * detection vocabulary (patterns, signals, thresholds). Pure: no I/O.
 * @module
 */
import { TrailguardError } from './errors.ts';
import { isPlainObject } from './validation.ts';

/** Every security event type. */
export const SECURITY_EVENT_TYPES = [
  'login_success',
  'login_failed',
  'account_locked',
  'account_unlocked',
  'password_changed',
  'password_reset_requested',
  '2fa_enabled',
  '2fa_disabled',
  'permission_denied',
  'suspicious_activity',
] as const;
export type SecurityEventType = (typeof SECURITY_EVENT_TYPES)[number];

/** Event categories. */
export const SECURITY_CATEGORIES = [
  'authentication',
  'authorization',
  'account_management',
  'data_access',
  'system',
] as const;
export type SecurityCategory = (typeof SECURITY_CATEGORIES)[number];

/** Severities, lowest first. */
export const SEVERITIES = ['info', 'warning', 'error', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Each type belongs to exactly one category. */
export const EVENT_CATEGORY: Readonly<Record<SecurityEventType, SecurityCategory>> = {
  login_success: 'authentication',
  login_failed: 'authentication',
  account_locked: 'account_management',
  account_unlocked: 'account_management',
  password_changed: 'account_management',
  password_reset_requested: 'account_management',
  '2fa_enabled': 'account_management',
  '2fa_disabled': 'account_management',
  permission_denied: 'authorization',
  suspicious_activity: 'system',
};

/** The severity of a type before context escalates it. */
export const BASE_SEVERITY: Readonly<Record<SecurityEventType, Severity>> = {
  login_success: 'info',
  login_failed: 'warning',
  account_locked: 'warning',
  account_unlocked: 'info',
  password_changed: 'info',
  password_reset_requested: 'info',
  '2fa_enabled': 'info',
  '2fa_disabled': 'warning',
  permission_denied: 'warning',
  suspicious_activity: 'critical',
};

/** Detection patterns. The first three are windowed failure patterns; the last two look at successes. */
export const DETECTION_PATTERNS = [
  'brute_force',
  'distributed_attack',
  'account_enumeration',
  'new_country',
  'impossible_travel',
] as const;
export type DetectionPattern = (typeof DETECTION_PATTERNS)[number];

/** What detection concluded from an event, with the counts behind it. */
export interface Signal {
  pattern: DetectionPattern;
  /** The IP address (brute_force, account_enumeration) or the account (the others). */
  key: string;
  count: number;
  threshold: number;
  windowSeconds: number;
  /** The earliest event of the window that tripped the pattern. */
  firstSeenAt: Date;
}

/** The seed's three counters, each over its own window. */
export interface DetectionCounts {
  failedAttemptsFromIp: number;
  uniqueIpsForAccount: number;
  uniqueAccountsFromIp: number;
}

/** The outcome of one failed login. */
export interface DetectionResult {
  /** True when any pattern is over its threshold for this IP or account. */
  suspicious: boolean;
  /** Every pattern currently over its threshold. */
  signals: Signal[];
  counts: DetectionCounts;
  /** The signals that tripped for the first time in their window (one `suspicious_activity` each). */
  newSignals: Signal[];
}

/** Context that escalates a severity. */
export interface SeverityContext {
  /** A failure pattern tripped. */
  suspicious?: boolean | undefined;
  /** Signals raised by this event (new_country, impossible_travel on a success). */
  signals?: readonly Signal[] | undefined;
}

/** Base severity of `type`, escalated by context: a failed login that trips a pattern is `error`. */
export function severityFor(type: SecurityEventType, ctx: SeverityContext = {}): Severity {
  const base = BASE_SEVERITY[type];
  const flagged = ctx.suspicious === true || (ctx.signals?.length ?? 0) > 0;
  if (!flagged) return base;
  switch (type) {
    case 'login_failed':
    case 'account_locked':
    case 'permission_denied':
      return maxSeverity(base, 'error');
    case 'login_success':
    case 'password_changed':
    case '2fa_disabled':
      return maxSeverity(base, 'warning');
    default:
      return base;
  }
}

/** The higher of two severities. */
export function maxSeverity(a: Severity, b: Severity): Severity {
  return SEVERITIES.indexOf(a) >= SEVERITIES.indexOf(b) ? a : b;
}

export function isSecurityEventType(v: unknown): v is SecurityEventType {
  return typeof v === 'string' && (SECURITY_EVENT_TYPES as readonly string[]).includes(v);
}

export function isSeverity(v: unknown): v is Severity {
  return typeof v === 'string' && (SEVERITIES as readonly string[]).includes(v);
}

// ---------------------------------------------------------------------------------------------------
// Detection settings

/** One windowed pattern. */
export interface WindowPattern {
  /** Trips at this count (failures, or distinct IPs / accounts). */
  threshold: number;
  /** Sliding window length. */
  windowSeconds: number;
}

/** The three failure patterns; `false` turns one off. */
export interface FailurePatterns {
  /** ≥ threshold failures from one IP. @default { threshold: 5, windowSeconds: 900 } */
  bruteForce: WindowPattern | false;
  /** ≥ threshold distinct IPs failing against one account. @default { threshold: 10, windowSeconds: 1800 } */
  distributedAttack: WindowPattern | false;
  /** ≥ threshold distinct accounts tried from one IP. @default { threshold: 20, windowSeconds: 600 } */
  accountEnumeration: WindowPattern | false;
}

export const DEFAULT_PATTERNS: Readonly<FailurePatterns> = {
  bruteForce: { threshold: 5, windowSeconds: 15 * 60 },
  distributedAttack: { threshold: 10, windowSeconds: 30 * 60 },
  accountEnumeration: { threshold: 20, windowSeconds: 10 * 60 },
};

/** Limits shared by both window stores. */
export interface WindowLimits {
  /** How late (in event time) an event may arrive and still count. @default 300 */
  maxLatenessSeconds: number;
  /** Events kept per key; must be ≥ every threshold and ≤ 128 (bounds Redis memory and script time). @default 64 */
  maxEntriesPerKey: number;
}

export const DEFAULT_WINDOW_LIMITS: Readonly<WindowLimits> = {
  maxLatenessSeconds: 300,
  maxEntriesPerKey: 64,
};

/** What `check()` does with a flagged IP. */
export const CHECK_MODES = ['monitor', 'enforce'] as const;
export type CheckMode = (typeof CHECK_MODES)[number];

/** The whole `detection` configuration, resolved. */
export interface DetectionSettings extends FailurePatterns, WindowLimits {
  /** Turns detection off (events are still stored and logged). @default true */
  enabled: boolean;
  /** `monitor` never blocks; `enforce` makes `check()` refuse flagged IPs. @default 'monitor' */
  mode: CheckMode;
  /** Patterns that make `check()` refuse in enforce mode. @default ['brute_force', 'account_enumeration'] */
  blockOn: DetectionPattern[];
  /** A country the user has not logged in from within this many days raises `new_country`. @default 90; false turns it off */
  newCountry: { lookbackDays: number } | false;
  /** Faster than this between consecutive successful logins raises `impossible_travel`. @default 1000 km/h; false turns it off */
  impossibleTravel: { maxSpeedKmh: number } | false;
  /** Redis command timeout before falling back to in-process state. @default 100 */
  redisTimeoutMs: number;
  /** Redis key prefix (cluster hash tags are added inside it). @default 'tg:' */
  keyPrefix: string;
  /** Largest number of keys the in-process store keeps (oldest used are evicted). @default 100000 */
  maxKeys: number;
  /** HMAC key for account keys in Redis; by default one is generated and kept in the database. */
  accountKeySecret: string | undefined;
}

function configError(field: string, message: string): TrailguardError {
  return new TrailguardError('CONFIG_INVALID', `${field}: ${message}`, { field });
}

function intIn(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw configError(field, `must be a whole number from ${min} to ${max}`);
  }
  return v;
}

function windowPattern(
  v: unknown,
  dflt: WindowPattern | false,
  field: string,
  minThreshold: number,
): WindowPattern | false {
  if (v === undefined) return dflt === false ? false : { ...dflt };
  if (v === false) return false;
  if (!isPlainObject(v)) throw configError(field, 'must be false or { threshold, windowSeconds }');
  for (const k of Object.keys(v)) {
    if (k !== 'threshold' && k !== 'windowSeconds')
      throw configError(`${field}.${k}`, 'is not a known field');
  }
  const base = dflt === false ? DEFAULT_PATTERNS.bruteForce : dflt;
  return {
    threshold:
      v['threshold'] === undefined
        ? (base as WindowPattern).threshold
        : intIn(v['threshold'], `${field}.threshold`, minThreshold, 128),
    windowSeconds:
      v['windowSeconds'] === undefined
        ? (base as WindowPattern).windowSeconds
        : intIn(v['windowSeconds'], `${field}.windowSeconds`, 1, 7 * 24 * 3600),
  };
}

const DETECTION_KEYS = [
  'enabled',
  'mode',
  'blockOn',
  'bruteForce',
  'distributedAttack',
  'accountEnumeration',
  'newCountry',
  'impossibleTravel',
  'maxLatenessSeconds',
  'maxEntriesPerKey',
  'redisTimeoutMs',
  'keyPrefix',
  'maxKeys',
  'accountKeySecret',
] as const;

/** Validates the failure patterns and window limits (`createDetector`'s `patterns` and limits). */
export function resolvePatterns(
  raw: unknown,
  field: string,
): FailurePatterns & { maxLatenessSeconds: number; maxEntriesPerKey: number } {
  const v = raw === undefined ? {} : raw;
  if (!isPlainObject(v)) throw configError(field, 'must be an object');
  const maxEntriesPerKey =
    v['maxEntriesPerKey'] === undefined
      ? DEFAULT_WINDOW_LIMITS.maxEntriesPerKey
      : intIn(v['maxEntriesPerKey'], `${field}.maxEntriesPerKey`, 2, 128);
  const out = {
    bruteForce: windowPattern(v['bruteForce'], DEFAULT_PATTERNS.bruteForce, `${field}.bruteForce`, 1),
    distributedAttack: windowPattern(
      v['distributedAttack'],
      DEFAULT_PATTERNS.distributedAttack,
      `${field}.distributedAttack`,
      2,
    ),
    accountEnumeration: windowPattern(
      v['accountEnumeration'],
      DEFAULT_PATTERNS.accountEnumeration,
      `${field}.accountEnumeration`,
      2,
    ),
    maxLatenessSeconds:
      v['maxLatenessSeconds'] === undefined
        ? DEFAULT_WINDOW_LIMITS.maxLatenessSeconds
        : intIn(v['maxLatenessSeconds'], `${field}.maxLatenessSeconds`, 0, 24 * 3600),
    maxEntriesPerKey,
  };
  for (const name of ['bruteForce', 'distributedAttack', 'accountEnumeration'] as const) {
    const p = out[name];
    if (p !== false && p.threshold > maxEntriesPerKey) {
      throw configError(
        `${field}.${name}.threshold`,
        `must not exceed maxEntriesPerKey (${maxEntriesPerKey}): a key keeps at most that many events`,
      );
    }
  }
  return out;
}

/** Validates the `detection` option; errors name the offending key (`detection.bruteForce.threshold`). */
export function resolveDetectionSettings(raw: unknown): DetectionSettings {
  const field = 'detection';
  const v = raw === undefined ? {} : raw;
  if (!isPlainObject(v)) throw configError(field, 'must be an object');
  for (const k of Object.keys(v)) {
    if (!(DETECTION_KEYS as readonly string[]).includes(k)) {
      throw configError(`${field}.${k}`, `is not a known field (known: ${DETECTION_KEYS.join(', ')})`);
    }
  }
  const patterns = resolvePatterns(v, field);
  const enabled = v['enabled'] ?? true;
  if (typeof enabled !== 'boolean') throw configError(`${field}.enabled`, 'must be a boolean');
  const mode = v['mode'] ?? 'monitor';
  if (!(CHECK_MODES as readonly unknown[]).includes(mode))
    throw configError(`${field}.mode`, `must be one of: ${CHECK_MODES.join(', ')}`);
  const blockOn = v['blockOn'] ?? ['brute_force', 'account_enumeration'];
  if (
    !Array.isArray(blockOn) ||
    blockOn.some((p) => !(DETECTION_PATTERNS as readonly unknown[]).includes(p))
  ) {
    throw configError(`${field}.blockOn`, `must be a list of: ${DETECTION_PATTERNS.join(', ')}`);
  }
  let newCountry: DetectionSettings['newCountry'] = { lookbackDays: 90 };
  if (v['newCountry'] === false) newCountry = false;
  else if (v['newCountry'] !== undefined) {
    const n = v['newCountry'];
    if (!isPlainObject(n)) throw configError(`${field}.newCountry`, 'must be false or { lookbackDays }');
    newCountry = {
      lookbackDays: intIn(n['lookbackDays'] ?? 90, `${field}.newCountry.lookbackDays`, 1, 3660),
    };
  }
  let impossibleTravel: DetectionSettings['impossibleTravel'] = { maxSpeedKmh: 1000 };
  if (v['impossibleTravel'] === false) impossibleTravel = false;
  else if (v['impossibleTravel'] !== undefined) {
    const n = v['impossibleTravel'];
    if (!isPlainObject(n)) throw configError(`${field}.impossibleTravel`, 'must be false or { maxSpeedKmh }');
    impossibleTravel = {
      maxSpeedKmh: intIn(n['maxSpeedKmh'] ?? 1000, `${field}.impossibleTravel.maxSpeedKmh`, 1, 100_000),
    };
  }
  const keyPrefix = v['keyPrefix'] ?? 'tg:';
  if (typeof keyPrefix !== 'string' || /[{}\s]/.test(keyPrefix) || keyPrefix.length > 64) {
    throw configError(
      `${field}.keyPrefix`,
      'must be a string of at most 64 characters without braces or spaces',
    );
  }
  const secret = v['accountKeySecret'];
  if (secret !== undefined && (typeof secret !== 'string' || secret.length < 16)) {
    throw configError(`${field}.accountKeySecret`, 'must be a string of at least 16 characters');
  }
  return {
    ...patterns,
    enabled,
    mode: mode as CheckMode,
    blockOn: [...(blockOn as DetectionPattern[])],
    newCountry,
    impossibleTravel,
    redisTimeoutMs:
      v['redisTimeoutMs'] === undefined
        ? 100
        : intIn(v['redisTimeoutMs'], `${field}.redisTimeoutMs`, 1, 60_000),
    keyPrefix,
    maxKeys: v['maxKeys'] === undefined ? 100_000 : intIn(v['maxKeys'], `${field}.maxKeys`, 10, 100_000_000),
    accountKeySecret: secret as string | undefined,
  };
}

// ---------------------------------------------------------------------------------------------------
// Geo rules for successful logins

/** Great-circle distance in km (haversine). */
export function distanceKm(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** A located login. */
export interface GeoPoint {
  lat: number;
  lon: number;
  /** GeoIP accuracy radius; unknown counts as 0. */
  accuracyKm: number | null;
  at: Date;
}

/**
 * Speed between two logins in km/h after subtracting both accuracy radii from the distance (the
 * benefit of the doubt goes to the user); 0 when the points are within their uncertainty.
 */
export function travelSpeedKmh(prev: GeoPoint, next: GeoPoint): number {
  const km = distanceKm(prev, next) - (prev.accuracyKm ?? 0) - (next.accuracyKm ?? 0);
  if (km <= 0) return 0;
  const hours = Math.abs(next.at.getTime() - prev.at.getTime()) / 3_600_000;
  return hours === 0 ? Number.POSITIVE_INFINITY : km / hours;
}

// ---------------------------------------------------------------------------------------------------
// Stored events and the service's inputs

/** One stored security event. */
export interface SecurityEvent {
  id: string;
  type: SecurityEventType;
  category: SecurityCategory;
  severity: Severity;
  occurredAt: Date;
  username: string | null;
  userId: string | null;
  ipAddress: string | null;
  userAgent: string | null;
  reason: string | null;
  /** Counts, signals and the caller's context (secrets redacted). */
  context: Record<string, unknown>;
}

/** Length limits for event fields; longer attacker-controlled values are cut, not rejected. */
export const EVENT_LIMITS = {
  username: 256,
  userId: 256,
  reason: 512,
  resource: 512,
  action: 128,
  /** Serialized size of the caller's context object. */
  contextBytes: 16 * 1024,
} as const;

/** Filters for `security.events()`. */
export interface SecurityEventQuery {
  type?: SecurityEventType | undefined;
  category?: SecurityCategory | undefined;
  /** Exactly this severity. */
  severity?: Severity | undefined;
  /** An address or a CIDR block. */
  ip?: string | undefined;
  username?: string | undefined;
  userId?: string | number | undefined;
  /** Inclusive lower bound on `occurredAt`. */
  from?: Date | string | number | undefined;
  /** Exclusive upper bound on `occurredAt`. */
  to?: Date | string | number | undefined;
  /** @default 50 (max 1000) */
  limit?: number | undefined;
  /** `nextCursor` of the previous page. */
  cursor?: string | null | undefined;
}
