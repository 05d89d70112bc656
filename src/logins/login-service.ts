/**
 * Login history use cases: record an attempt, close a session, and the seed's queries.
 * @module
 */
import { createHash } from 'node:crypto';
import { newId } from '../domain/ids.ts';
import type { Clock } from '../domain/clock.ts';
import { decodeKeysetCursor, encodeKeysetCursor } from '../domain/cursor.ts';
import { TrailguardError, invalid } from '../domain/errors.ts';
import { captureTrace } from '../domain/trace.ts';
import { DEVICE_TYPES, LIMITS, LOGIN_TYPES, RecordLoginFields } from '../domain/login.ts';
import type {
  FailedLoginsQuery,
  ListLoginsQuery,
  LoginRecord,
  Page,
  RecordLoginInput,
  RecordLogoutInput,
} from '../domain/login.ts';
import { redactSecrets, redactText } from '../domain/redact.ts';
import { rejectUnknownKeys } from '../domain/known-keys.ts';
import {
  cleanJson,
  cleanText,
  isPlainObject,
  LATEST_QUERY_TIME,
  parseEventTime,
  parseQueryDate,
  parseIpFilter,
  validator,
} from '../domain/validation.ts';
import type { ClientContext, Enricher } from '../enrich/enricher.ts';
import { createGroupCommitter } from '../store/group-commit.ts';
import type { GroupCommitter } from '../store/group-commit.ts';
import type { PartitionManager } from '../store/partitions.ts';
import { insertIdempotencyItems } from '../store/idempotency-store.ts';
import type { IdempotencyItem } from '../store/idempotency-store.ts';
import type { RawBuilder } from 'kysely';
import { LOGIN_BATCH } from './login-repository.ts';
import type { LoginFilter, LoginRepository, LoginRow } from './login-repository.ts';
import type { HourlyCount, LoginStatsRepository } from './login-stats-repository.ts';

/**
 * Called once a login row has committed (alert rules hook in here). `trace` is the Error captured when
 * `record()` was called, present when an attached companion asked for one.
 */
export type LoginObserver = (
  record: LoginRecord,
  client: ClientContext,
  trace?: Error,
) => Promise<void> | void;

/**
 * Rows another feature attaches to each login (security events): prepared before the login is written
 * (detection runs there) and inserted by the same statement as the login rows, so a login and its
 * events are stored together or not at all, in one round trip and one commit.
 */
export interface LoginCompanion<E> {
  /** Whether `prepare` uses the caller's stack trace (capturing one costs time on every record). @default true */
  readonly wantsTrace?: boolean;
  /**
   * Runs before the login row is written; the rows it returns are committed with it. It answers at once
   * (no promise) when it has nothing to wait for, which spares record() an await per login.
   */
  prepare(record: LoginRecord, client: ClientContext, trace: Error | undefined): E[] | Promise<E[]>;
  /**
   * The login's own event among `items`, stored in the login row itself (its severity, and the context
   * that `row` does not already say) rather than by `insert`; null when there is none.
   */
  ownEvent?(items: E[], row: LoginRow): LoginOwnEvent | null;
  /** Runs before the statement (e.g. creating partitions). */
  beforeWrite(items: E[]): Promise<void>;
  /**
   * A data-modifying statement (INSERT …) that the login batch's statement runs as one of its parts,
   * or null when there is nothing to insert.
   * It may read the batch's login rows from the relation named `logins` (see LOGIN_BATCH), to take
   * fields it shares with them instead of sending them again.
   */
  insert(items: E[], logins: string): RawBuilder<unknown> | null;
  /**
   * Runs once the statement has committed (e.g. writing log lines); a promise it returns is awaited
   * before the logins' record() calls resolve, and must not reject.
   */
  committed(items: E[]): void | Promise<void>;
}

/** A login's own event as its row stores it (see LoginRow.eventSeverity). */
export interface LoginOwnEvent {
  severity: string;
  context: Record<string, unknown> | null;
}

interface PendingLogin {
  row: LoginRow;
  /** row.loginAt as a Date. */
  at: Date;
  /** Rows of each attached companion, by companion index. */
  extras: unknown[][];
  /** The keyed request item this login is, recorded in the login's own statement. */
  idempotency?: IdempotencyItem | undefined;
}

/** Options of one `record()` call. */
export interface RecordLoginOptions {
  /**
   * The item of an idempotent request this login is (the server's `Idempotency-Key`, scoped to its
   * caller, and the item's index). It is recorded in the same statement as the login row, so a retry
   * can tell exactly which items were committed; a second record of the same item is refused
   * (`WRITE_FAILED`, cause SQLSTATE 23505) instead of storing a second row. For `recordLogout()`,
   * the item is recorded with the session it closed (nothing when it closed none), and a second
   * record of it fails the statement, which then closes nothing.
   */
  idempotency?: { principal: string; key: string; item: number } | undefined;
}

export interface LoginServiceDeps {
  repository: LoginRepository;
  stats: LoginStatsRepository;
  partitions: PartitionManager;
  enricher: Enricher;
  clock: Clock;
  /** Parallel insert batches. @default 1 */
  maxInFlight?: number | undefined;
  /** Largest batch. @default 1000 */
  maxBatch?: number | undefined;
  /** Time a substring search may spend scanning before it returns a partial page. @default 50 */
  searchBudgetMs?: number | undefined;
  /** Items waiting before a batch overlaps one in flight. @default maxBatch */
  minOverlap?: number | undefined;
  onBatch?: ((size: number, durationMs: number) => void) | undefined;
}

/** `tg.logins`: login history. */
export interface LoginService {
  /** Logins queued for the next group commit or in flight (for metrics). */
  readonly pendingWrites: number;
  /** Records one login attempt; resolves with the stored record once it is committed. */
  record(input: RecordLoginInput, options?: RecordLoginOptions): Promise<LoginRecord>;
  /** Closes the session and sets its duration; null when no open login matches. */
  recordLogout(input: RecordLogoutInput, options?: RecordLoginOptions): Promise<LoginRecord | null>;
  /** The user's last successful login, or null. */
  lastLogin(userId: string | number): Promise<LoginRecord | null>;
  /** Failed attempts in the last `hours`, newest first. */
  failed(query: FailedLoginsQuery): Promise<LoginRecord[]>;
  /** Filtered, newest first, keyset-paginated. */
  list(query?: ListLoginsQuery): Promise<Page<LoginRecord>>;
  /** One login record by id; throws `NOT_FOUND` when there is none. */
  get(id: string): Promise<LoginRecord>;
  /**
   * The years, the months of `year`, or the days of `year`-`month` (UTC, with counts) that hold logins:
   * the admin list's date drill-down.
   */
  calendar(query?: { year?: number | undefined; month?: number | undefined }): Promise<CalendarCounts>;
  /** Aggregates for dashboards and monitoring (from the hourly rollup). */
  stats(window: {
    from: Date | string | number;
    to?: Date | string | number | undefined;
    /** Only these breakdowns (the others come back empty), to spare queries. @default all */
    only?: readonly ('perHour' | 'deviceTypes' | 'countries' | 'loginTypes')[] | undefined;
  }): Promise<LoginStats>;
  /** Addresses with the most failed attempts in the window (the seed's "top IPs by failed logins"). */
  topFailingIps(window: {
    from: Date | string | number;
    to?: Date | string | number | undefined;
    limit?: number | undefined;
  }): Promise<{ ip: string; count: number }[]>;
  /** Adds a hook run after each committed record. */
  observe(observer: LoginObserver): void;
  /** Attaches rows committed together with each login (see LoginCompanion). */
  attach<E>(companion: LoginCompanion<E>): void;
  /** Waits for queued writes to commit. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

const checkFields = validator(RecordLoginFields);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Login aggregates over a window. */
export interface LoginStats {
  from: Date;
  to: Date;
  total: number;
  success: number;
  failure: number;
  /** Percentage of attempts that succeeded; null when there were none. */
  successRate: number | null;
  perHour: HourlyCount[];
  deviceTypes: { key: string; count: number }[];
  countries: { key: string; count: number }[];
  loginTypes: { key: string; count: number }[];
}

/**
 * `logins.calendar()` result: `unit` is the granularity of `items`. Years and months list the periods
 * that hold logins (`count` null: counting them would read every rollup row); days carry their counts.
 */
export interface CalendarCounts {
  unit: 'year' | 'month' | 'day';
  items: { period: Date; count: number | null }[];
}

/** SHA-256 of a session key, hex; the raw key is never stored. */
export function hashSessionKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function normalizeUserId(value: unknown, field = 'userId'): string {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw invalid(field, 'must be a string or a whole number');
    return String(value);
  }
  if (typeof value !== 'string' || value.trim() === '')
    throw invalid(field, 'must be a non-empty string or a whole number');
  if (value.length > LIMITS.userId) throw invalid(field, `must be at most ${LIMITS.userId} characters`);
  return cleanText(value, LIMITS.userId);
}

export function createLoginService(deps: LoginServiceDeps): LoginService {
  const { repository, partitions, enricher, clock } = deps;
  const observers: LoginObserver[] = [];
  const companions: LoginCompanion<unknown>[] = [];
  // record() calls between validation and commit (companions may still be preparing).
  const writing = new Set<Promise<void>>();
  const committer: GroupCommitter<PendingLogin> = createGroupCommitter<PendingLogin>({
    maxInFlight: deps.maxInFlight,
    onBatch: deps.onBatch,
    minOverlap: deps.minOverlap,
    maxBatch: deps.maxBatch,
    flush: async (pending, slot) => {
      const rows = pending.map((p) => p.row);
      const extras = companions.map((_, i) => pending.flatMap((p) => p.extras[i] ?? []));
      const write = async (): Promise<void> => {
        await partitions.ensure(
          'login_history',
          pending.map((p) => p.at),
        );
        const parts: RawBuilder<unknown>[] = [];
        for (const [i, c] of companions.entries()) {
          const items = extras[i];
          if (!items?.length) continue;
          await c.beforeWrite(items);
          const part = c.insert(items, LOGIN_BATCH);
          if (part) parts.push(part);
        }
        const keyed: IdempotencyItem[] = [];
        for (const p of pending) if (p.idempotency) keyed.push(p.idempotency);
        if (keyed.length > 0) parts.push(insertIdempotencyItems(keyed, clock.now()));
        await repository.insertBatch(rows, { shard: slot, with: parts });
      };
      try {
        await write();
      } catch (err) {
        // 23514: no partition for a row's month — another process's retention dropped one this
        // process still had cached. Forget the cache and try once more.
        if ((err as { code?: unknown }).code !== '23514') throw err;
        partitions.reset();
        await write();
      }
      for (const [i, c] of companions.entries()) {
        if (!extras[i]?.length) continue;
        const after = c.committed(extras[i]);
        if (after) await after;
      }
    },
  });

  function prepare(input: RecordLoginInput): { row: LoginRow; at: Date; client: ClientContext } {
    if (!isPlainObject(input)) throw invalid('input', 'record() takes an object');
    const { request, headers, occurredAt, ...rest } = input;
    // null means "not given" for the optional fields; username and success must be real values.
    const given: Record<string, unknown> = {};
    for (const k in rest) {
      if (!Object.hasOwn(rest, k)) continue;
      const v = (rest as Record<string, unknown>)[k];
      if (v !== undefined && (v !== null || k === 'username' || k === 'success')) given[k] = v;
    }
    const fields = checkFields(given);
    const username = cleanText(fields.username.trim(), LIMITS.username);
    if (username === '') throw invalid('username', 'must not be empty');
    const callerMetadata =
      fields.metadata === undefined
        ? null
        : // Secrets are redacted as in a security event's context (docs/security.md).
          (redactSecrets(cleanJson(fields.metadata, 'metadata')) as Record<string, unknown>);
    const now = clock.now();
    const loginAt = occurredAt === undefined ? now : parseEventTime(occurredAt, 'occurredAt', now);
    const client = enricher.client({ request, headers, ip: fields.ip, userAgent: fields.userAgent });
    let metadata = callerMetadata ?? {};
    const referrer = client.referrer !== null && metadata['referrer'] === undefined;
    const language = client.acceptLanguage !== null && metadata['acceptLanguage'] === undefined;
    if (referrer || language) {
      metadata = { ...metadata };
      if (referrer) metadata['referrer'] = client.referrer;
      if (language) metadata['acceptLanguage'] = client.acceptLanguage;
    }
    // Serialized once. The size limit is on the caller's metadata: a stored JSON short enough cannot
    // hold a caller's part over it, so the caller's part is only measured alone when it might be.
    const metadataJson = JSON.stringify(metadata);
    if (callerMetadata !== null && metadataJson.length * 3 > LIMITS.metadataBytes) {
      const own = metadata === callerMetadata ? metadataJson : JSON.stringify(callerMetadata);
      if (Buffer.byteLength(own) > LIMITS.metadataBytes) {
        throw invalid('metadata', `must be at most ${LIMITS.metadataBytes} bytes as JSON`);
      }
    }
    const row: LoginRow = {
      id: newId(),
      userId: fields.userId === undefined || fields.userId === null ? null : normalizeUserId(fields.userId),
      username,
      loginType: fields.loginType ?? 'password',
      success: fields.success,
      failureReason: fields.failureReason
        ? redactText(cleanText(fields.failureReason, LIMITS.failureReason))
        : null,
      ipAddress: client.ip,
      userAgent: client.userAgent,
      browser: client.ua.browser,
      browserVersion: client.ua.browserVersion,
      os: client.ua.os,
      deviceType: client.ua.deviceType,
      country: client.geo?.country ?? null,
      city: client.geo?.city ?? null,
      latitude: client.geo?.latitude ?? null,
      longitude: client.geo?.longitude ?? null,
      geoAccuracyKm: client.geo?.accuracyKm ?? null,
      sessionKeyHash: fields.sessionKey ? hashSessionKey(fields.sessionKey) : null,
      loginAt: loginAt.getTime(),
      metadata,
      metadataJson,
      eventSeverity: null,
      eventContext: null,
    };
    return { row, at: loginAt, client };
  }

  function toRecord(row: LoginRow, loginAt: Date): LoginRecord {
    return {
      id: row.id,
      userId: row.userId,
      username: row.username,
      loginType: row.loginType,
      success: row.success,
      failureReason: row.failureReason,
      ipAddress: row.ipAddress,
      userAgent: row.userAgent,
      browser: row.browser,
      browserVersion: row.browserVersion,
      os: row.os,
      deviceType: row.deviceType,
      country: row.country,
      city: row.city,
      loginAt,
      logoutAt: null,
      sessionDurationSeconds: null,
      metadata: row.metadata,
    };
  }

  /**
   * A substring search has no index to use, so it scans back in time, one window after another, until
   * the page is full, the data (or `from`) ends, or the time budget is spent. Windows start at one day
   * and are sized from the scan rate seen so far, so the last one still fits the budget. A page cut
   * short by the budget says how far back it searched, and its cursor goes on from there.
   */
  async function searchPage(filter: LoginFilter, limit: number): Promise<Page<LoginRecord>> {
    const budgetMs = deps.searchBudgetMs ?? 50;
    const started = performance.now();
    const oldest = await repository.oldest();
    if (oldest === null) return { items: [], nextCursor: null };
    const floor = filter.from !== undefined && filter.from > oldest ? filter.from : oldest;
    const top = filter.before?.loginAt ?? filter.to ?? clock.now();
    const items: LoginRecord[] = [];
    let upper: Date | undefined; // exclusive upper bound of the next window (the filter's own at first)
    let span = 86_400_000;
    for (;;) {
      const lower = new Date(Math.max(floor.getTime(), (upper ?? top).getTime() - span));
      const windowStarted = performance.now();
      const rows = await repository.find(
        { ...filter, from: lower, ...(upper ? { to: upper, before: undefined } : {}) },
        limit + 1 - items.length,
      );
      items.push(...rows);
      if (items.length > limit) {
        const page = items.slice(0, limit);
        const last = page[page.length - 1] as LoginRecord;
        return { items: page, nextCursor: encodeCursor(last.loginAt, last.id) };
      }
      if (lower.getTime() <= floor.getTime()) return { items, nextCursor: null };
      const now = performance.now();
      const left = budgetMs - (now - started);
      if (left <= 0) {
        // Rows strictly older than `lower` remain: the smallest id makes the keyset exclude `lower` itself.
        return {
          items,
          nextCursor: encodeCursor(lower, '00000000-0000-0000-0000-000000000000'),
          searchedBack: lower,
        };
      }
      const windowSpan = upper ? upper.getTime() - lower.getTime() : span;
      const rate = windowSpan / Math.max(0.5, now - windowStarted); // ms of data scanned per ms spent
      span = Math.max(3_600_000, Math.min(windowSpan * 16, rate * left * 0.8));
      upper = lower;
    }
  }

  function limitOf(value: unknown, dflt: number, max: number): number {
    if (value === undefined) return dflt;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
      throw invalid('limit', `must be a whole number from 1 to ${max}`);
    }
    return value;
  }

  function oneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): T | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      throw invalid(field, `must be one of: ${allowed.join(', ')}`);
    }
    return value as T;
  }

  return {
    get pendingWrites() {
      return committer.pending;
    },
    async record(input, options) {
      // Captured before the first await, while the caller is still on the stack (read lazily).
      const trace = companions.some((c) => c.wantsTrace !== false) ? captureTrace() : undefined;
      const { row, at, client } = prepare(input);
      const record = toRecord(row, at);
      const write = (async () => {
        const extras: unknown[][] = [];
        for (const c of companions) {
          const prepared = c.prepare(record, client, trace);
          const items = Array.isArray(prepared) ? prepared : await prepared;
          const own = c.ownEvent?.(items, row);
          if (own) {
            row.eventSeverity = own.severity;
            row.eventContext = own.context;
          }
          extras.push(items);
        }
        const keyed = options?.idempotency;
        await committer.submit({
          row,
          at,
          extras,
          idempotency: keyed && { ...keyed, recordId: row.id },
        });
      })();
      writing.add(write);
      try {
        await write;
      } finally {
        writing.delete(write);
      }
      for (const observer of observers) {
        const pending = observer(record, client, trace);
        if (pending) await pending;
      }
      return record;
    },

    async recordLogout(input, options) {
      if (!isPlainObject(input)) throw invalid('input', 'recordLogout() takes an object');
      const userId = normalizeUserId(input.userId);
      if (
        input.sessionKey !== undefined &&
        input.sessionKey !== null &&
        (typeof input.sessionKey !== 'string' || input.sessionKey === '')
      ) {
        throw invalid('sessionKey', 'must be a non-empty string');
      }
      const now = clock.now();
      const at = input.occurredAt === undefined ? now : parseEventTime(input.occurredAt, 'occurredAt', now);
      // A login still waiting in the batch must be committed before we look for it.
      if (writing.size > 0) await Promise.allSettled([...writing]);
      if (committer.pending > 0) await committer.drain();
      return repository.closeSession(
        userId,
        input.sessionKey ? hashSessionKey(input.sessionKey) : null,
        at,
        options?.idempotency && { item: options.idempotency, now },
      );
    },

    async lastLogin(userId) {
      return repository.lastSuccessful(normalizeUserId(userId));
    },

    async failed(query) {
      if (!isPlainObject(query)) throw invalid('query', 'failed() takes an object');
      rejectUnknownKeys(query, ['hours', 'username', 'ip', 'limit']);
      const { hours } = query;
      // 100 years: further back is before any login and past what a date can hold (audit A #8).
      if (typeof hours !== 'number' || !Number.isFinite(hours) || hours <= 0 || hours > 876_000)
        throw invalid('hours', 'must be a positive number of at most 876000 (100 years)');
      const filter: LoginFilter = {
        success: false,
        from: new Date(clock.now().getTime() - hours * 3_600_000),
      };
      if (query.username !== undefined) {
        if (typeof query.username !== 'string' || query.username === '')
          throw invalid('username', 'must be a non-empty string');
        filter.username = query.username;
      }
      if (query.ip !== undefined) filter.ip = parseIpFilter(query.ip, 'ip');
      return repository.find(filter, limitOf(query.limit, 1000, 10_000));
    },

    async list(query = {}) {
      if (!isPlainObject(query)) throw invalid('query', 'list() takes an object');
      rejectUnknownKeys(query, LIST_KEYS);
      const filter: LoginFilter = {};
      if (query.userId !== undefined) filter.userId = normalizeUserId(query.userId);
      if (query.username !== undefined) {
        if (typeof query.username !== 'string' || query.username === '')
          throw invalid('username', 'must be a non-empty string');
        filter.username = query.username;
      }
      if (query.ip !== undefined) filter.ip = parseIpFilter(query.ip, 'ip');
      if (query.success !== undefined) {
        if (typeof query.success !== 'boolean') throw invalid('success', 'must be a boolean');
        filter.success = query.success;
      }
      filter.loginType = oneOf(query.loginType, LOGIN_TYPES, 'loginType');
      filter.deviceType = oneOf(query.deviceType, DEVICE_TYPES, 'deviceType');
      if (query.country !== undefined) {
        if (typeof query.country !== 'string' || !/^[A-Za-z]{2}$/.test(query.country))
          throw invalid('country', 'must be a two-letter ISO 3166-1 code');
        filter.country = query.country.toUpperCase();
      }
      if (query.search !== undefined) {
        if (typeof query.search !== 'string' || query.search.trim() === '' || query.search.length > 256)
          throw invalid('search', 'must be 1 to 256 characters');
        filter.search = query.search.trim();
      }
      if (query.from !== undefined) filter.from = parseQueryDate(query.from, 'from');
      if (query.to !== undefined) filter.to = parseQueryDate(query.to, 'to');
      if (query.cursor !== undefined && query.cursor !== null) filter.before = decodeCursor(query.cursor);
      const limit = limitOf(query.limit, 50, 1000);
      if (filter.search !== undefined) return searchPage(filter, limit);
      const rows = await repository.find(filter, limit + 1);
      const items = rows.slice(0, limit);
      const last = items[items.length - 1];
      return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.loginAt, last.id) : null };
    },

    async get(id) {
      if (typeof id !== 'string' || !UUID.test(id)) throw invalid('id', 'must be a UUID');
      const record = await repository.get(id.toLowerCase());
      if (!record) throw new TrailguardError('NOT_FOUND', `no login record ${id}`);
      return record;
    },

    async calendar(query = {}) {
      if (!isPlainObject(query)) throw invalid('query', 'calendar() takes { year?, month? }');
      rejectUnknownKeys(query, ['year', 'month']);
      const { year, month } = query;
      if (year !== undefined && (!Number.isInteger(year) || year < 1970 || year > 9999))
        throw invalid('year', 'must be a year from 1970 to 9999');
      if (month !== undefined && (!Number.isInteger(month) || month < 1 || month > 12))
        throw invalid('month', 'must be 1 to 12');
      if (month !== undefined && year === undefined) throw invalid('month', 'needs a year');
      await committer.drain();
      if (year === undefined || month === undefined) {
        const from = new Date(Date.UTC(year ?? 1970, 0, 1));
        const to = endOfPeriod(Date.UTC(year === undefined ? 9999 : year + 1, 0, 1));
        const months = await deps.stats.monthsWithData(from, to);
        if (year !== undefined)
          return { unit: 'month', items: months.map((m) => ({ period: m, count: null })) };
        const years = [...new Set(months.map((m) => m.getUTCFullYear()))];
        return {
          unit: 'year',
          items: years.map((y) => ({ period: new Date(Date.UTC(y, 0, 1)), count: null })),
        };
      }
      return {
        unit: 'day',
        items: await deps.stats.perDay(
          new Date(Date.UTC(year, month - 1, 1)),
          endOfPeriod(Date.UTC(year, month, 1)),
        ),
      };
    },

    async stats(window) {
      if (!isPlainObject(window)) throw invalid('window', 'stats() takes { from, to? }');
      rejectUnknownKeys(window, ['from', 'to', 'only']);
      const from = parseQueryDate(window.from, 'from');
      const to = window.to === undefined ? clock.now() : parseQueryDate(window.to, 'to');
      const want = (part: 'perHour' | 'deviceTypes' | 'countries' | 'loginTypes') =>
        window.only === undefined || window.only.includes(part);
      await committer.drain();
      const none = Promise.resolve([]);
      const [totals, perHour, deviceTypes, countries, loginTypes] = await Promise.all([
        deps.stats.totals(from, to),
        want('perHour') ? deps.stats.perHour(from, to) : none,
        want('deviceTypes') ? deps.stats.byField('device_type', from, to) : none,
        want('countries') ? deps.stats.byField('country', from, to) : none,
        want('loginTypes') ? deps.stats.byField('login_type', from, to) : none,
      ]);
      return {
        from,
        to,
        ...totals,
        successRate: totals.total === 0 ? null : (totals.success / totals.total) * 100,
        perHour,
        deviceTypes,
        countries: countries.filter((c) => c.key !== ''),
        loginTypes,
      };
    },

    async topFailingIps(window) {
      if (!isPlainObject(window)) throw invalid('window', 'topFailingIps() takes { from, to?, limit? }');
      rejectUnknownKeys(window, ['from', 'to', 'limit']);
      const from = parseQueryDate(window.from, 'from');
      const to =
        window.to === undefined ? new Date(clock.now().getTime() + 1) : parseQueryDate(window.to, 'to');
      return deps.stats.topFailingIps(from, to, limitOf(window.limit, 10, 1000));
    },

    observe(observer) {
      observers.push(observer);
    },

    attach(companion) {
      companions.push(companion as LoginCompanion<unknown>);
    },

    async flush() {
      if (writing.size > 0) await Promise.allSettled([...writing]);
      await committer.drain();
    },
    async close() {
      if (writing.size > 0) await Promise.allSettled([...writing]);
      await committer.close();
    },
  };
}

/**
 * The exclusive end of a calendar period, but no later than LATEST_QUERY_TIME: the end of 9999 is
 * year 10000, which PostgreSQL cannot read in the ISO form JavaScript writes it (+010000-01-01). Event
 * times end a day after now, so the cut-off day holds nothing.
 */
function endOfPeriod(ms: number): Date {
  return new Date(Math.min(ms, LATEST_QUERY_TIME.getTime()));
}

const LIST_KEYS = [
  'userId',
  'username',
  'ip',
  'success',
  'loginType',
  'deviceType',
  'country',
  'search',
  'from',
  'to',
  'limit',
  'cursor',
];

/** Opaque keyset cursor: the last row's (loginAt, id). */
export function encodeCursor(at: Date, id: string): string {
  return encodeKeysetCursor(at, id);
}

export function decodeCursor(cursor: unknown): { loginAt: Date; id: string } {
  const { at, id } = decodeKeysetCursor(cursor);
  return { loginAt: at, id };
}
