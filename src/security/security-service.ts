/**
 * `tg.security`: security events (stored and logged as one JSON line each) and attack detection.
 * @module
 */
import { newId } from '../domain/ids.ts';
import type { Clock } from '../domain/clock.ts';
import { decodeKeysetCursor, encodeKeysetCursor } from '../domain/cursor.ts';
import { TrailguardError, invalid } from '../domain/errors.ts';
import type { LoginRecord, Page, RequestLike } from '../domain/login.ts';
import {
  EVENT_CATEGORY,
  EVENT_LIMITS,
  SECURITY_CATEGORIES,
  SECURITY_EVENT_TYPES,
  SEVERITIES,
  isSecurityEventType,
  isSeverity,
  severityFor,
  travelSpeedKmh,
} from '../domain/security-event.ts';
import type {
  DetectionPattern,
  DetectionResult,
  DetectionSettings,
  SecurityEvent,
  SecurityEventQuery,
  SecurityEventType,
  Severity,
  Signal,
} from '../domain/security-event.ts';
import {
  cleanJson,
  cleanText,
  isPlainObject,
  parseEventTime,
  parseQueryDate,
  parseIpFilter,
} from '../domain/validation.ts';
import { redactSecrets, redactText } from '../domain/redact.ts';
import { rejectUnknownKeys } from '../domain/known-keys.ts';
import { decide } from '../detect/decision.ts';
import type { Detector } from '../detect/detector.ts';
import type { ClientContext, Enricher } from '../enrich/enricher.ts';
import { createGroupCommitter } from '../store/group-commit.ts';
import type { GroupCommitter } from '../store/group-commit.ts';
import type { PartitionManager } from '../store/partitions.ts';
import { callSiteOf, captureTrace } from './call-site.ts';
import type { SecurityLog, SecurityLogLine } from './security-log.ts';
import type { LoginCompanion } from '../logins/login-service.ts';
import type {
  EventFilter,
  LoginContextRequest,
  SecurityRepository,
  SignalClaim,
} from './security-repository.ts';
import { createBatchLoader } from '../store/batch-loader.ts';
import type { IdempotencyItem } from '../store/idempotency-store.ts';

/** A keyed request's item before its event has an id. */
type IdempotencyKeyItem = Omit<IdempotencyItem, 'recordId'>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface SecurityServiceDeps {
  repository: SecurityRepository;
  partitions: PartitionManager;
  enricher: Enricher;
  clock: Clock;
  /** Null when detection is turned off. */
  detector: Detector | null;
  settings: DetectionSettings;
  log: SecurityLog;
  /** Parallel insert batches. @default 1 */
  maxInFlight?: number | undefined;
}

/** Who and where, common to every event. */
export interface EventSubject {
  /** What the user typed as their identifier (email or username). Cut to 256 characters. */
  username?: string | undefined;
  /** The application's user id. */
  userId?: string | number | undefined;
  /** The incoming request; the client IP and user agent are read from it (through trusted proxies only). */
  request?: RequestLike | undefined;
  /** Client IP when no request is given. An IP (or a request that yields one) is required. */
  ip?: string | undefined;
  /** User agent when no request is given. */
  userAgent?: string | undefined;
  /** Request headers when no request object is given. */
  headers?: Record<string, string | string[] | undefined> | undefined;
  /** Why it happened (`invalid_password`, `too_many_failed_attempts` …). */
  reason?: string | undefined;
  /** When it happened: from 1970-01-01 to 24 hours after now (EARLIEST_EVENT_TIME, MAX_EVENT_SKEW_MS). @default now */
  occurredAt?: Date | string | number | undefined;
  /** Any JSON object (at most 16 KiB); secrets in it (by key name or by shape) are redacted, as in `reason`. */
  context?: Record<string, unknown> | undefined;
}

/** Options of `security.log()`. */
export interface LogEventOptions extends EventSubject {
  /** Overrides the computed severity. */
  severity?: Severity | undefined;
}

/** Input of `security.loginFailed()`. */
export interface LoginFailedInput extends EventSubject {
  username: string;
}

/** Input of `security.permissionDenied()`. */
export interface PermissionDeniedInput extends LogEventOptions {
  userId: string | number;
  /** What was accessed (`invoice:42`, `/admin/users`). */
  resource: string;
  /** What was attempted (`read`, `delete`). */
  action: string;
}

/** The answer of `security.check()`. */
export interface CheckResult {
  /** False only in `enforce` mode, for a pattern listed in `detection.blockOn`. */
  allowed: boolean;
  /** When refused: seconds until the window releases the IP. */
  retryAfterSeconds?: number;
  /** Every pattern currently over its threshold for this IP or account. */
  reasons: DetectionPattern[];
}

/** Input of `security.check()`: an IP, or the request it is read from, and/or the account. */
export interface CheckInput {
  /** The incoming request; the client IP is read from it through trusted proxies only. */
  request?: RequestLike | undefined;
  /** Client IP when no request is given. */
  ip?: string | undefined;
  /** What the user typed as their identifier. */
  username?: string | undefined;
}

/** Options of one `log()` call. */
export interface LogOptions {
  /**
   * The item of an idempotent request this event is (the server's `Idempotency-Key`, scoped to its
   * caller, and the item's index). It is recorded in the same statement as the event's row, so a
   * retry can tell exactly which items were committed; a second record of the same item is refused
   * (`WRITE_FAILED`, cause SQLSTATE 23505) instead of storing a second event.
   */
  idempotency?: { principal: string; key: string; item: number } | undefined;
}

/** `tg.security`. */
export interface SecurityService {
  /** Events queued for the next group commit or in flight (for metrics). */
  readonly pendingWrites: number;
  /** Records a failed login: runs detection, stores and logs `login_failed` (and `suspicious_activity`). */
  loginFailed(input: LoginFailedInput): Promise<DetectionResult>;
  /** Stores and logs one event of any type. */
  log(type: SecurityEventType, options: LogEventOptions, extra?: LogOptions): Promise<SecurityEvent>;
  /** One stored event by id (not a login's own event); throws `NOT_FOUND` when there is none. */
  get(id: string): Promise<SecurityEvent>;
  accountLocked(options: LogEventOptions): Promise<SecurityEvent>;
  accountUnlocked(options: LogEventOptions): Promise<SecurityEvent>;
  passwordChanged(options: LogEventOptions): Promise<SecurityEvent>;
  twoFactorEnabled(options: LogEventOptions): Promise<SecurityEvent>;
  permissionDenied(options: PermissionDeniedInput): Promise<SecurityEvent>;
  /** True when any failure pattern is over its threshold for the IP or the account. */
  isSuspicious(input: { ip?: string | undefined; username?: string | undefined }): Promise<boolean>;
  /** Failed logins from `ip` in the brute-force window. */
  failedLoginCount(ip: string): Promise<number>;
  /**
   * Call before verifying a password. `monitor` mode never refuses; `enforce` refuses flagged IPs.
   * Give the `request` to have the client IP resolved through `trustProxy`, as every recording method does.
   */
  check(input: CheckInput): Promise<CheckResult>;
  /** Forgets the failures of an IP and/or account (an admin lockout reset); logged as `account_unlocked`. */
  resetCounters(input: {
    ip?: string | undefined;
    username?: string | undefined;
    /** Who reset them (an admin's id), for the audit trail. */
    by?: string | undefined;
  }): Promise<void>;
  /** Stored events, newest first, keyset-paginated. */
  events(query?: SecurityEventQuery): Promise<Page<SecurityEvent>>;
  /**
   * Calls `listener` with every event once its row is committed (for metrics). Listeners run
   * synchronously and must not throw; returns the unsubscribe function.
   */
  onEvent(listener: (event: SecurityEvent) => void): () => void;
  /** The detector (null when detection is off). */
  readonly detector: Detector | null;
  /**
   * Login-history hook: for each `logins.record()`, runs detection and builds `login_failed` /
   * `login_success` (and any `suspicious_activity`), stored by the same statement as the login.
   */
  readonly loginCompanion: LoginCompanion<PreparedEvent>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Keys of a line's `context` that describe the event itself. The caller's `context` is merged into
 * the same object (the documented flat line shape), so these are written last and a caller's key of
 * the same name is left out of the line: a SIEM must not be told that a `permission_denied` by one
 * user from one address was a `login_success` by another. The stored row keeps the caller's keys in
 * its `context` column, apart from the event's own columns.
 */
const CORE_LINE_KEYS = [
  'event_type',
  'category',
  'severity',
  'email',
  'username',
  'user_id',
  'ip_address',
  'user_agent',
  'reason',
  'event_id',
] as const;

/** The event's context for a log line, without keys that would shadow the core fields. */
function lineContext(context: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | null = null;
  for (const k of CORE_LINE_KEYS) {
    if (Object.hasOwn(context, k)) {
      out ??= { ...context };
      delete out[k];
    }
  }
  return out ?? context;
}

/** The keys of `EventSubject`; a misspelt one (`resaon`) is VALIDATION_FAILED, not dropped. */
const SUBJECT_KEYS = [
  'username',
  'userId',
  'request',
  'ip',
  'userAgent',
  'headers',
  'reason',
  'occurredAt',
  'context',
];
const LOG_KEYS = [...SUBJECT_KEYS, 'severity'];

const NO_SIGNALS: Signal[] = [];

/** Marks events as raised for login `id`; the first, the login's own, takes the login's id. */
function forLogin(id: string, prepared: PreparedEvent[]): PreparedEvent[] {
  for (const p of prepared) p.loginId = id;
  if (prepared[0]) prepared[0].event.id = id;
  return prepared;
}

const EMPTY_RESULT: DetectionResult = {
  suspicious: false,
  signals: [],
  newSignals: [],
  counts: { failedAttemptsFromIp: 0, uniqueIpsForAccount: 0, uniqueAccountsFromIp: 0 },
};

function message(type: SecurityEventType, who: string, extra: Record<string, unknown>): string {
  switch (type) {
    case 'login_success':
      return `Successful login for ${who}`;
    case 'login_failed':
      return `Failed login attempt for ${who}`;
    case 'account_locked':
      return `Account locked for ${who}`;
    case 'account_unlocked':
      return `Account unlocked for ${who}`;
    case 'password_changed':
      return `Password changed for ${who}`;
    case 'password_reset_requested':
      return `Password reset requested for ${who}`;
    case '2fa_enabled':
      return `Two-factor authentication enabled for ${who}`;
    case '2fa_disabled':
      return `Two-factor authentication disabled for ${who}`;
    case 'permission_denied':
      return `Permission denied for ${who}: ${String(extra['action'] ?? '')} ${String(extra['resource'] ?? '')}`.trim();
    case 'suspicious_activity':
      return `Suspicious activity detected: ${String(extra['pattern'] ?? 'manual')} (${String(extra['key'] ?? who)})`;
  }
}

/** The line of an event while the log is off (never called: writeLine checks first). */
const NO_LINE = (): never => {
  throw new Error('the security log is off');
};

/** An event ready to store, with its log line built on demand. */
export interface PreparedEvent {
  event: SecurityEvent;
  line: () => SecurityLogLine;
  /** The login this event was raised for; its subject (who, where, when, why) is that login's. */
  loginId?: string;
  /** A windowed signal's event: stored only when it wins its window's claim (one per window, any process). */
  claim?: SignalClaim;
}

interface Subject {
  username: string | null;
  userId: string | null;
  ip: string | null;
  userAgent: string | null;
  reason: string | null;
  occurredAt: Date;
  context: Record<string, unknown>;
}

function userIdOf(value: unknown, field = 'userId'): string {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value !== 'string' || value.trim() === '')
    throw invalid(field, 'must be a non-empty string or a whole number');
  return cleanText(value.trim(), EVENT_LIMITS.userId);
}

function usernameOf(value: unknown): string {
  if (typeof value !== 'string') throw invalid('username', 'must be a non-empty string');
  const u = cleanText(value.trim(), EVENT_LIMITS.username);
  if (u === '') throw invalid('username', 'must not be empty');
  return u;
}

/** A login's own event (it carries the login's id), stored in the login row rather than as a row. */
function isOwnEvent(p: PreparedEvent): boolean {
  return p.loginId !== undefined && p.event.id === p.loginId;
}

export function createSecurityService(deps: SecurityServiceDeps): SecurityService {
  const { repository, partitions, enricher, clock, detector, settings, log } = deps;
  const listeners = new Set<(event: SecurityEvent) => void>();
  function committed(event: SecurityEvent): void {
    for (const listener of listeners) listener(event);
  }
  // Signal events submitted through the committer carry their claim here; those that lost it (another
  // process raised the window's signal) are marked dropped by the flush.
  const claims = new WeakMap<SecurityEvent, SignalClaim>();
  const dropped = new WeakSet<SecurityEvent>();
  // Events that are an item of a keyed request carry the item here, recorded with their row.
  const keyed = new WeakMap<SecurityEvent, IdempotencyKeyItem>();
  const committer: GroupCommitter<SecurityEvent> = createGroupCommitter<SecurityEvent>({
    maxInFlight: deps.maxInFlight,
    flush: async (rows) => {
      await partitions.ensure(
        'security_event_rows',
        rows.map((r) => r.occurredAt),
      );
      const left = await repository.insertBatch(
        rows,
        (e) => claims.get(e),
        (e) => keyed.get(e),
        clock.now(),
      );
      if (left.size) for (const r of rows) if (left.has(r.id)) dropped.add(r);
    },
  });

  // Logins recorded together share one query for their history context.
  const loadLoginContext = createBatchLoader((requests: LoginContextRequest[]) =>
    repository.loginContext(requests),
  );

  /** Validates and enriches the common fields; throws before anything is stored. */
  function subject(
    input: unknown,
    requireIp: boolean,
    requireUsername: boolean,
    known: readonly string[] = SUBJECT_KEYS,
  ): Subject {
    if (!isPlainObject(input)) throw invalid('input', 'expected an options object');
    rejectUnknownKeys(input, known);
    const o = input as EventSubject;
    const username =
      o.username === undefined || o.username === null
        ? requireUsername
          ? usernameOf(o.username)
          : null
        : usernameOf(o.username);
    const userId = o.userId === undefined || o.userId === null ? null : userIdOf(o.userId);
    const client = enricher.client({
      request: o.request,
      headers: o.headers,
      ip: o.ip,
      userAgent: o.userAgent,
    });
    if (requireIp && client.ip === null)
      throw invalid('ip', 'is required (give ip or a request with a client address)');
    let reason: string | null = null;
    if (o.reason !== undefined && o.reason !== null) {
      if (typeof o.reason !== 'string') throw invalid('reason', 'must be a string');
      reason = redactText(cleanText(o.reason, EVENT_LIMITS.reason)) || null;
    }
    const now = clock.now();
    const occurredAt = o.occurredAt === undefined ? now : parseEventTime(o.occurredAt, 'occurredAt', now);
    let context: Record<string, unknown> = {};
    if (o.context !== undefined) {
      if (!isPlainObject(o.context)) throw invalid('context', 'must be a JSON object');
      context = redactSecrets(cleanJson(o.context, 'context')) as Record<string, unknown>;
      if (Buffer.byteLength(JSON.stringify(context)) > EVENT_LIMITS.contextBytes) {
        throw invalid('context', `must be at most ${EVENT_LIMITS.contextBytes} bytes as JSON`);
      }
    }
    return { username, userId, ip: client.ip, userAgent: client.userAgent, reason, occurredAt, context };
  }

  function severityOption(v: unknown): Severity | undefined {
    if (v === undefined) return undefined;
    if (!isSeverity(v)) throw invalid('severity', `must be one of: ${SEVERITIES.join(', ')}`);
    return v;
  }

  /** Builds one event and, lazily, its log line (the line is only built when the log is on). */
  function build(
    type: SecurityEventType,
    s: Subject,
    severity: Severity,
    extra: Record<string, unknown>,
    trace: Error | undefined,
    id?: string,
  ): PreparedEvent {
    const event: SecurityEvent = {
      id: id ?? newId(),
      type,
      category: EVENT_CATEGORY[type],
      severity,
      occurredAt: s.occurredAt,
      username: s.username,
      userId: s.userId,
      ipAddress: s.ip,
      userAgent: s.userAgent,
      reason: s.reason,
      context: { ...s.context, ...extra },
    };
    if (!log.enabled) return { event, line: NO_LINE };
    // Read now: the line is built after the commit, outside the caller's trace context.
    const traceIds = log.traceIds?.();
    const line = (): SecurityLogLine => {
      const who = s.username ?? (s.userId !== null ? `user ${s.userId}` : (s.ip ?? 'unknown'));
      return {
        timestamp: event.occurredAt,
        severity,
        message: message(type, who, event.context),
        type,
        category: event.category,
        id: event.id,
        username: s.username,
        userId: s.userId,
        ip: s.ip,
        userAgent: s.userAgent,
        reason: s.reason,
        location: log.location ? callSiteOf(trace) : null,
        trace: traceIds,
        context: lineContext(event.context),
      };
    };
    return { event, line };
  }

  /**
   * Signal events stored with a login batch: the statement does not say which won their claim, so the
   * few there are are looked up before their lines and listeners (metrics, alerts) see them. A failed
   * look-up announces them all: a duplicate line is better than a lost signal.
   */
  async function announceClaimed(items: PreparedEvent[]): Promise<void> {
    let stored: Set<string>;
    try {
      stored = await repository.storedIds(items.map((p) => ({ id: p.event.id, at: p.event.occurredAt })));
    } catch {
      stored = new Set(items.map((p) => p.event.id));
    }
    const kept = items.filter((p) => stored.has(p.event.id));
    if (log.enabled && kept.length) log.writeAll(kept.map((p) => p.line()));
    for (const p of kept) committed(p.event);
  }

  function writeLine(p: PreparedEvent): void {
    if (log.enabled) log.write(p.line());
  }

  /** Stores one event and writes its line; resolves once the row is committed. */
  async function emit(
    type: SecurityEventType,
    s: Subject,
    severity: Severity,
    extra: Record<string, unknown>,
    trace: Error | undefined,
    item?: IdempotencyKeyItem,
  ): Promise<SecurityEvent> {
    const p = build(type, s, severity, extra, trace);
    if (item) keyed.set(p.event, item);
    writeLine(p);
    await committer.submit(p.event);
    committed(p.event);
    return p.event;
  }

  function countsContext(r: DetectionResult): Record<string, unknown> {
    return {
      failed_attempts_from_ip: r.counts.failedAttemptsFromIp,
      unique_ips_for_email: r.counts.uniqueIpsForAccount,
      unique_emails_from_ip: r.counts.uniqueAccountsFromIp,
      is_suspicious: r.suspicious,
      ...(r.signals.length ? { signals: r.signals.map((x) => x.pattern) } : {}),
    };
  }

  function signalContext(sig: Signal): Record<string, unknown> {
    return {
      pattern: sig.pattern,
      key: sig.key,
      count: sig.count,
      threshold: sig.threshold,
      window_seconds: sig.windowSeconds,
      first_seen_at: sig.firstSeenAt.toISOString(),
    };
  }

  /** Detection, then `login_failed` and one `suspicious_activity` per new signal, built but not stored. */
  async function failureEvents(
    s: Subject & { username: string },
    trace: Error | undefined,
    extra: Record<string, unknown> = {},
  ): Promise<{ result: DetectionResult; prepared: PreparedEvent[] }> {
    const result =
      detector && s.ip !== null
        ? await detector.recordFailure({ ip: s.ip, username: s.username, at: s.occurredAt })
        : EMPTY_RESULT;
    return { result, prepared: failureEventsOf(result, s, trace, extra) };
  }

  /** `login_failed` (taking `id` when given) and one `suspicious_activity` per new signal of `result`. */
  function failureEventsOf(
    result: DetectionResult,
    s: Subject & { username: string },
    trace: Error | undefined,
    extra: Record<string, unknown>,
    id?: string,
  ): PreparedEvent[] {
    const counts = countsContext(result);
    const prepared = [
      build(
        'login_failed',
        s,
        severityFor('login_failed', { suspicious: result.suspicious }),
        { ...extra, ...counts },
        trace,
        id,
      ),
    ];
    for (const sig of result.newSignals) {
      const p = build('suspicious_activity', s, 'critical', { ...signalContext(sig), ...counts }, trace);
      if (detector)
        p.claim = {
          pattern: sig.pattern,
          subject: detector.signalSubject(sig),
          windowSeconds: sig.windowSeconds,
        };
      prepared.push(p);
    }
    return prepared;
  }

  /** Detection, then `login_failed`, then one `suspicious_activity` per new signal; stored and logged. */
  async function failure(
    s: Subject & { username: string },
    trace: Error | undefined,
    extra: Record<string, unknown> = {},
    item?: IdempotencyKeyItem,
  ): Promise<{ result: DetectionResult; event: SecurityEvent }> {
    const { result, prepared } = await failureEvents(s, trace, extra);
    // The request's item is its login_failed event; the signals it raised go with it.
    if (item) keyed.set((prepared[0] as PreparedEvent).event, item);
    // A signal's line waits for its claim: the log shows the events the database kept, no duplicates.
    for (const p of prepared) {
      if (p.claim) claims.set(p.event, p.claim);
      else writeLine(p);
    }
    await Promise.all(prepared.map((p) => committer.submit(p.event)));
    for (const p of prepared) {
      if (dropped.has(p.event)) continue;
      if (p.claim) writeLine(p);
      committed(p.event);
    }
    return { result, event: (prepared[0] as PreparedEvent).event };
  }

  /** A successful login's `login_success` (by the login's id) and a `suspicious_activity` per travel signal. */
  function success(
    record: LoginRecord,
    s: Subject,
    base: Record<string, unknown>,
    signals: Signal[],
    trace: Error | undefined,
  ): PreparedEvent[] {
    const geo = record.country
      ? { country: record.country, ...(record.city ? { city: record.city } : {}) }
      : {};
    const prepared = [
      build(
        'login_success',
        s,
        severityFor('login_success', { signals }),
        { ...base, ...geo, ...(signals.length ? { signals: signals.map(signalContext) } : {}) },
        trace,
        record.id,
      ),
    ];
    // A new country is worth a warning on the login; impossible travel is an attack signal.
    for (const sig of signals) {
      if (sig.pattern === 'impossible_travel') {
        prepared.push(
          build('suspicious_activity', s, 'critical', { ...signalContext(sig), login_id: record.id }, trace),
        );
      }
    }
    return forLogin(record.id, prepared);
  }

  async function geoSignals(record: LoginRecord, client: ClientContext): Promise<Signal[]> {
    const signals: Signal[] = [];
    if (settings.newCountry === false && settings.impossibleTravel === false) return signals;
    const geo = client.geo;
    if (!geo) return signals;
    const key = record.userId ?? record.username;
    const lookbackMs = settings.newCountry === false ? 0 : settings.newCountry.lookbackDays * 86_400_000;
    const since = new Date(record.loginAt.getTime() - lookbackMs);
    const context = await loadLoginContext({
      userId: record.userId,
      username: record.username,
      before: record.loginAt,
      excludeId: record.id,
      country: settings.newCountry === false ? null : geo.country,
      since,
    });
    const prev = context.previous;
    if (!prev) return signals; // the first login teaches, it does not alarm
    if (settings.newCountry !== false && geo.country) {
      if (prev.loginAt >= since && !context.seenCountry) {
        signals.push({
          pattern: 'new_country',
          key,
          count: 1,
          threshold: 1,
          windowSeconds: lookbackMs / 1000,
          firstSeenAt: record.loginAt,
        });
      }
    }
    if (
      settings.impossibleTravel !== false &&
      geo.latitude !== null &&
      geo.longitude !== null &&
      prev.latitude !== null &&
      prev.longitude !== null
    ) {
      const speed = travelSpeedKmh(
        { lat: prev.latitude, lon: prev.longitude, accuracyKm: prev.accuracyKm, at: prev.loginAt },
        { lat: geo.latitude, lon: geo.longitude, accuracyKm: geo.accuracyKm, at: record.loginAt },
      );
      if (speed > settings.impossibleTravel.maxSpeedKmh) {
        signals.push({
          pattern: 'impossible_travel',
          key,
          count: Number.isFinite(speed) ? Math.round(speed) : Number.MAX_SAFE_INTEGER,
          threshold: settings.impossibleTravel.maxSpeedKmh,
          windowSeconds: Math.round((record.loginAt.getTime() - prev.loginAt.getTime()) / 1000),
          firstSeenAt: prev.loginAt,
        });
      }
    }
    return signals;
  }

  async function logTyped(
    type: SecurityEventType,
    options: LogEventOptions,
    trace: Error,
    extra: Record<string, unknown> = {},
    item?: IdempotencyKeyItem,
  ): Promise<SecurityEvent> {
    const severity = severityOption(isPlainObject(options) ? options.severity : undefined);
    if (type === 'login_failed') {
      const s = subject(options, true, true, LOG_KEYS) as Subject & { username: string };
      const { event } = await failure(s, trace, extra, item);
      return event;
    }
    const s = subject(options, true, false, LOG_KEYS);
    return emit(type, s, severity ?? severityFor(type), extra, trace, item);
  }

  const service: SecurityService = {
    detector,
    get pendingWrites() {
      return committer.pending;
    },

    async loginFailed(input) {
      const trace = captureTrace();
      const s = subject(input, true, true) as Subject & { username: string };
      return (await failure(s, trace)).result;
    },

    async log(type, options, extra) {
      const trace = captureTrace();
      if (!isSecurityEventType(type))
        throw invalid('type', `must be one of: ${SECURITY_EVENT_TYPES.join(', ')}`);
      const item = extra?.idempotency;
      return logTyped(type, options, trace, {}, item && { ...item });
    },

    async get(id) {
      if (typeof id !== 'string' || !UUID.test(id)) throw invalid('id', 'must be a UUID');
      if (committer.pending > 0) await committer.drain();
      const event = await repository.get(id.toLowerCase());
      if (!event) throw new TrailguardError('NOT_FOUND', `no security event ${id}`);
      return event;
    },

    accountLocked(options) {
      return logTyped('account_locked', options, captureTrace());
    },
    accountUnlocked(options) {
      return logTyped('account_unlocked', options, captureTrace());
    },
    passwordChanged(options) {
      return logTyped('password_changed', options, captureTrace());
    },
    twoFactorEnabled(options) {
      return logTyped('2fa_enabled', options, captureTrace());
    },
    async permissionDenied(options) {
      const trace = captureTrace();
      if (!isPlainObject(options)) throw invalid('input', 'permissionDenied() takes an options object');
      if (options.userId === undefined || options.userId === null) throw invalid('userId', 'is required');
      const field = (name: 'resource' | 'action', max: number): string => {
        const v = options[name];
        if (typeof v !== 'string' || v.trim() === '') throw invalid(name, 'must be a non-empty string');
        // A resource is often a request path, and its query string may carry a token.
        return redactText(cleanText(v.trim(), max));
      };
      const extra = {
        resource: field('resource', EVENT_LIMITS.resource),
        action: field('action', EVENT_LIMITS.action),
      };
      const { resource: _r, action: _a, ...rest } = options;
      return logTyped('permission_denied', rest, trace, extra);
    },

    async isSuspicious(input) {
      if (!detector) return false;
      return (await detector.check(input)).suspicious;
    },

    async failedLoginCount(ip) {
      if (!detector) return 0;
      return (await detector.check({ ip })).counts.failedAttemptsFromIp;
    },

    async check(input) {
      if (!isPlainObject(input)) throw invalid('input', 'check() takes { request?, ip?, username? }');
      rejectUnknownKeys(input, ['request', 'ip', 'username']);
      const { request, ...rest } = input as CheckInput;
      let ip = rest.ip;
      if (request !== undefined && ip === undefined) {
        // The same resolution (trusted proxies only) as the address a login record stores.
        ip = enricher.client({ request }).ip ?? undefined;
        if (ip === undefined && rest.username === undefined)
          throw invalid('request', 'has no client address (a closed socket?) and no username was given');
      }
      if (!detector) return { allowed: true, reasons: [] };
      const c = await detector.check({
        ...(ip !== undefined ? { ip } : {}),
        ...(rest.username !== undefined ? { username: rest.username } : {}),
      });
      return decide(c, settings, clock.now().getTime());
    },

    async resetCounters(input) {
      const trace = captureTrace();
      if (!isPlainObject(input)) throw invalid('input', 'resetCounters() takes { ip?, username?, by? }');
      if (input.by !== undefined && (typeof input.by !== 'string' || input.by === ''))
        throw invalid('by', 'must be a non-empty string');
      if (detector) await detector.reset(input);
      else if (input.ip === undefined && input.username === undefined)
        throw invalid('ip', 'give an ip, a username or both');
      const s = subject({ ip: input.ip, username: input.username }, false, false);
      await emit(
        'account_unlocked',
        { ...s, reason: 'counters_reset' },
        'info',
        { action: 'reset_counters', ...(input.by ? { by: cleanText(input.by, EVENT_LIMITS.userId) } : {}) },
        trace,
      );
    },

    async events(query = {}) {
      if (!isPlainObject(query)) throw invalid('query', 'events() takes an object');
      rejectUnknownKeys(query, [
        'type',
        'category',
        'severity',
        'ip',
        'username',
        'userId',
        'from',
        'to',
        'limit',
        'cursor',
      ]);
      const filter: EventFilter = {};
      const oneOf = (v: unknown, allowed: readonly string[], field: string): string | undefined => {
        if (v === undefined) return undefined;
        if (typeof v !== 'string' || !allowed.includes(v))
          throw invalid(field, `must be one of: ${allowed.join(', ')}`);
        return v;
      };
      filter.type = oneOf(query.type, SECURITY_EVENT_TYPES, 'type');
      filter.category = oneOf(query.category, SECURITY_CATEGORIES, 'category');
      filter.severity = oneOf(query.severity, SEVERITIES, 'severity');
      if (query.ip !== undefined) filter.ip = parseIpFilter(query.ip, 'ip');
      if (query.username !== undefined) filter.username = usernameOf(query.username);
      if (query.userId !== undefined) filter.userId = userIdOf(query.userId);
      if (query.from !== undefined) filter.from = parseQueryDate(query.from, 'from');
      if (query.to !== undefined) filter.to = parseQueryDate(query.to, 'to');
      if (query.cursor !== undefined && query.cursor !== null)
        filter.before = decodeEventCursor(query.cursor);
      const limit = query.limit ?? 50;
      if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > 1000)
        throw invalid('limit', 'must be a whole number from 1 to 1000');
      if (committer.pending > 0) await committer.drain();
      const rows = await repository.find(filter, limit + 1);
      const items = rows.slice(0, limit);
      const last = items[items.length - 1];
      return {
        items,
        nextCursor: rows.length > limit && last ? encodeEventCursor(last.occurredAt, last.id) : null,
      };
    },

    loginCompanion: {
      // The trace only feeds the log line's location.
      wantsTrace: log.enabled && log.location,
      prepare(record, client, trace) {
        // Stored with the login's own subject (see insertForLogins), joined on its id.
        // The first event is the login's own (login_success / login_failed): it takes the login's id,
        // because it is stored in the login row itself (see ownEvent) and the view shows it by that id.
        // Without detection or geo signals to wait for, the events are returned at once (no promise).
        const s: Subject = {
          username: record.username,
          userId: record.userId,
          ip: record.ipAddress,
          userAgent: record.userAgent,
          reason: record.failureReason,
          occurredAt: record.loginAt,
          context: {},
        };
        const base = { login_id: record.id, login_type: record.loginType };
        if (!record.success) {
          const failed = s as Subject & { username: string };
          if (!detector || s.ip === null) {
            return forLogin(record.id, failureEventsOf(EMPTY_RESULT, failed, trace, base, record.id));
          }
          return detector
            .recordFailure({ ip: s.ip, username: failed.username, at: s.occurredAt })
            .then((result) => forLogin(record.id, failureEventsOf(result, failed, trace, base, record.id)));
        }
        if (!client.geo || (settings.newCountry === false && settings.impossibleTravel === false)) {
          return success(record, s, base, NO_SIGNALS, trace);
        }
        return geoSignals(record, client).then((signals) => success(record, s, base, signals, trace));
      },
      ownEvent(items, row) {
        const own = items.find(isOwnEvent);
        if (!own) return null;
        // What the security_events view derives from the login row is left out (see migration 0009).
        const derived = (key: string, value: unknown): boolean =>
          (key === 'login_id' && value === row.id) ||
          (key === 'login_type' && value === row.loginType) ||
          (row.success &&
            row.country !== null &&
            own.event.context['country'] === row.country &&
            (key === 'country' || (key === 'city' && row.city !== null && value === row.city)));
        let context: Record<string, unknown> | null = null;
        for (const key in own.event.context) {
          const value = own.event.context[key];
          if (derived(key, value)) continue;
          (context ??= {})[key] = value;
        }
        return { severity: own.event.severity, context };
      },
      async beforeWrite(items) {
        const rows = items.filter((p) => !isOwnEvent(p));
        if (rows.length)
          await partitions.ensure(
            'security_event_rows',
            rows.map((p) => p.event.occurredAt),
          );
      },
      insert(items, logins) {
        const rows = items.filter((p) => !isOwnEvent(p));
        return rows.length ? repository.insertForLogins(rows, logins) : null;
      },
      committed(items) {
        const plain = items.some((p) => p.claim) ? items.filter((p) => !p.claim) : items;
        // The batch's lines go out as one write.
        if (log.enabled) log.writeAll(plain.map((p) => p.line()));
        for (const p of plain) committed(p.event);
        return plain === items ? undefined : announceClaimed(items.filter((p) => p.claim));
      },
    },

    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    flush: () => committer.drain(),
    async close() {
      try {
        await committer.close();
      } finally {
        try {
          await detector?.close();
        } finally {
          await log.close();
        }
      }
    },
  };
  return service;
}

/** Opaque keyset cursor: the last row's (occurredAt, id). */
export function encodeEventCursor(at: Date, id: string): string {
  return encodeKeysetCursor(at, id);
}

export function decodeEventCursor(cursor: unknown): { occurredAt: Date; id: string } {
  const { at, id } = decodeKeysetCursor(cursor);
  return { occurredAt: at, id };
}
