/**
 * Alerts: rules raise alerts, throttling keeps one per rule and key per window (counting the rest), and
 * every alert is written with one outbox row per sink in the same transaction. A dispatcher delivers due
 * outbox rows with retries and exponential backoff (honouring Retry-After), so delivery survives a
 * restart and happens at least once. Raising never waits for a sink: an unreachable webhook or SMTP
 * server cannot hold up the login that triggered it.
 * @module
 */
import { sql } from 'kysely';
import type { Kysely, Selectable } from 'kysely';
import { newId } from '../domain/ids.ts';
import type { Logger } from '../domain/logger.ts';
import type { Clock } from '../domain/clock.ts';
import { invalid } from '../domain/errors.ts';
import { redactSecrets, redactText } from '../domain/redact.ts';
import type { LoginRecord } from '../domain/login.ts';
import type { SecurityEvent } from '../domain/security-event.ts';
import { cleanJson, cleanText, isPlainObject } from '../domain/validation.ts';
import { createBatchLoader } from '../store/batch-loader.ts';
import type { AlertTable, Database } from '../store/schema.ts';
import type { ResolvedAlertsConfig, ResolvedRule } from './alert-config.ts';
import { createSink } from './sinks.ts';
import type { Alert, Sink } from './sinks.ts';

const SEVERITIES = ['info', 'warning', 'error', 'critical'] as const;

/** Input to `alerts.raise()`. */
export interface RaiseAlertInput {
  /** Rule name (snake_case). Built-in rules use their own; applications may raise their own rules. */
  rule: string;
  /** What the alert is about; throttling is per rule and key. */
  key: string;
  severity: Alert['severity'];
  title: string;
  message?: string | undefined;
  details?: Record<string, unknown> | undefined;
  /** @default now */
  occurredAt?: Date | undefined;
  /** Sink names; @default the rule's sinks, or every sink. */
  sinks?: string[] | undefined;
  /** Throttle window; @default the rule's, or `alerts.throttleSeconds`. */
  throttleSeconds?: number | undefined;
}

/** One delivery (alert × sink) as stored in the outbox. */
export interface AlertDelivery {
  id: string;
  alertId: string;
  sink: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
  deliveredAt: Date | null;
}

/** `tg.alerts` */
export interface AlertService {
  /** Raises an alert unless throttled; resolves with it (or null when suppressed) once it is in the outbox. */
  raise(input: RaiseAlertInput): Promise<Alert | null>;
  /** Recent alerts, newest first. */
  list(options?: { rule?: string | undefined; limit?: number | undefined }): Promise<Alert[]>;
  /** Deliveries of one alert, or the most recent ones. */
  deliveries(options?: {
    alertId?: string | undefined;
    status?: AlertDelivery['status'] | undefined;
    limit?: number | undefined;
  }): Promise<AlertDelivery[]>;
  /** Runs one dispatcher pass over due deliveries; returns how many were attempted. */
  deliverDue(): Promise<number>;
  /** The outbox backlog across every process sharing the database (for metrics). */
  outboxStatus(): Promise<OutboxStatus>;
  /** Subscribes to this process's delivery attempts (for metrics); returns the unsubscribe function. */
  onDelivery(listener: (attempt: DeliveryAttempt) => void): () => void;
  /** Waits for rule evaluations in flight and then for one dispatcher pass. */
  flush(): Promise<void>;
  /** The login hook: the failed-login burst rule (failed logins only). */
  onLogin(record: LoginRecord): Promise<void>;
  /**
   * Runs the change rules now: critical changes deployed without approval, emergency changes not
   * approved within the grace period. Each change is alerted once. `trailguard serve` runs this every
   * `checkEveryMinutes` (see `startChangeChecks`); call it yourself from your own scheduler otherwise.
   */
  checkChanges(): Promise<ChangeCheckResult>;
  /** The security-event hook: detection-signal and new-country rules, from the committed events. */
  onSecurityEvent(event: SecurityEvent): Promise<void>;
  /** The detector's hook: Redis unreachable, detection continues on in-process state. */
  onDetectionDegraded(err: unknown): Promise<void>;
  /** Runs `fn` without holding up the caller; failures are logged, `flush()` waits for it. */
  background(label: string, fn: () => Promise<void>): void;
  /** Stops the dispatcher and waits for deliveries in flight. */
  close(): Promise<void>;
  readonly config: ResolvedAlertsConfig;
}

/** The outbox backlog. */
export interface OutboxStatus {
  /** Deliveries waiting for their first attempt or a retry. */
  pending: number;
  /** Seconds since the oldest pending delivery was queued; 0 when none is pending. */
  oldestPendingSeconds: number;
}

/** One delivery attempt as the dispatcher saw it. */
export interface DeliveryAttempt {
  sink: string;
  /** `delivered`; `retry` (failed, will be tried again); `failed` (failed for good). */
  outcome: 'delivered' | 'retry' | 'failed';
  durationSeconds: number;
}

/** What one `checkChanges()` run raised (alerts actually written, not throttled ones). */
export interface ChangeCheckResult {
  criticalChangeUnapproved: number;
  emergencyChangeUnapproved: number;
}

/** How far back the critical-change check looks: a missed check (a restart) still catches a change. */
export function criticalLookbackMs(checkEveryMinutes: number): number {
  return Math.max(86_400_000, 2 * checkEveryMinutes * 60_000);
}

/** Emergency changes are looked at for this long after their grace period ends. */
export const EMERGENCY_LOOKBACK_MS = 30 * 86_400_000;

export interface AlertServiceDeps {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  config: ResolvedAlertsConfig;
}

function toAlert(r: Selectable<AlertTable>): Alert {
  return {
    id: r.id,
    rule: r.rule,
    key: r.alert_key,
    severity: r.severity as Alert['severity'],
    title: r.title,
    message: r.message,
    details: r.details ?? {},
    suppressed: Number(r.suppressed),
    occurredAt: new Date(r.occurred_at),
    createdAt: new Date(r.created_at),
  };
}

/** Delay before attempt `attempt + 1`: doubling from `initial`, ±25 % jitter, capped; Retry-After wins. */
export function backoffDelay(
  attempt: number,
  delivery: { initialDelayMs: number; maxDelayMs: number },
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== undefined) return Math.min(delivery.maxDelayMs, Math.max(retryAfterMs, 0));
  const exp = delivery.initialDelayMs * 2 ** Math.max(0, attempt - 1);
  const jittered = exp * (0.75 + random() * 0.5);
  return Math.min(delivery.maxDelayMs, Math.round(jittered));
}

/** One rule and key's throttle window while a batch of raises is decided. */
interface ThrottleWindow {
  /** Set when a raise of the batch opens a new window. */
  windowStart: Date | null;
  windowEnd: number;
  suppressed: number;
}

function throttleKey(rule: string, key: string): string {
  return `${rule}\u0000${key}`;
}

export function createAlertService(deps: AlertServiceDeps): AlertService {
  const { db, clock, logger, config } = deps;
  const sinks = new Map<string, Sink>(
    config.sinks.map((s) => [
      s.name,
      createSink(s, { timeoutMs: config.delivery.timeoutMs, logger, now: () => clock.now() }),
    ]),
  );
  const pending = new Set<Promise<void>>();
  const deliveryListeners = new Set<(attempt: DeliveryAttempt) => void>();
  let timer: NodeJS.Timeout | null = null;
  let pumping: Promise<number> | null = null;
  let again = false;
  let closed = false;
  // Throttle windows this process has seen open, by rule and key. While one is open a raise is only
  // counted here (no transaction); the counts reach alert_throttle.suppressed by the next flush, or
  // with the raise that opens the next window. An attack that fails thousands of logins per second
  // against one key would otherwise queue a locking transaction per failure.
  const openWindows = new Map<string, { rule: string; key: string; until: number; pending: number }>();
  let suppressedTimer: NodeJS.Timeout | null = null;

  /** Forgets windows that have closed with nothing left to store. */
  function dropClosedWindows(now: number): void {
    for (const [k, w] of openWindows) if (w.until <= now && w.pending === 0) openWindows.delete(k);
  }

  async function flushSuppressed(): Promise<void> {
    const now = clock.now().getTime();
    const due = [...openWindows.values()].filter((w) => w.pending > 0);
    dropClosedWindows(now);
    if (due.length === 0) return;
    const counts = due.map((w) => ({ rule: w.rule, key: w.key, n: w.pending }));
    for (const w of due) w.pending = 0;
    try {
      await sql`UPDATE alert_throttle AS t SET suppressed = t.suppressed + c.n
        FROM json_to_recordset(${JSON.stringify(counts)}::json) AS c(rule text, key text, n int)
        WHERE t.rule = c.rule AND t.alert_key = c.key`.execute(db);
    } catch (err) {
      for (const [i, w] of due.entries()) w.pending += counts[i]?.n ?? 0;
      throw err;
    }
  }

  function scheduleSuppressedFlush(): void {
    if (suppressedTimer || closed) return;
    suppressedTimer = setTimeout(() => {
      suppressedTimer = null;
      background('suppressed counts', flushSuppressed);
    }, 1000);
    suppressedTimer.unref();
  }

  function background(label: string, fn: () => Promise<void>): void {
    const p = fn()
      .catch((err: unknown) => logger.error({ err }, `alerts: ${label} failed`))
      .finally(() => pending.delete(p));
    pending.add(p);
  }

  async function raise(input: RaiseAlertInput, rule?: ResolvedRule): Promise<Alert | null> {
    if (!isPlainObject(input)) throw invalid('input', 'raise() takes an object');
    if (typeof input.rule !== 'string' || !/^[a-z][a-z0-9_]{0,63}$/.test(input.rule)) {
      throw invalid('rule', 'must be snake_case, at most 64 characters');
    }
    if (typeof input.key !== 'string' || input.key === '') throw invalid('key', 'must be a non-empty string');
    if (!(SEVERITIES as readonly string[]).includes(input.severity)) {
      throw invalid('severity', `must be one of: ${SEVERITIES.join(', ')}`);
    }
    if (typeof input.title !== 'string' || input.title.trim() === '')
      throw invalid('title', 'must not be empty');
    // An application's own alert is caller text like any other: its secrets are redacted before the
    // alert is stored or sent to a sink.
    const details =
      input.details === undefined
        ? {}
        : (redactSecrets(cleanJson(input.details, 'details')) as Record<string, unknown>);
    const sinkNames = input.sinks ?? rule?.sinks ?? [...sinks.keys()];
    for (const [i, n] of sinkNames.entries()) {
      if (!sinks.has(n)) throw invalid(`sinks[${i}]`, `no sink named '${n}'`);
    }
    const throttleSeconds = input.throttleSeconds ?? rule?.throttleSeconds ?? config.throttleSeconds;
    if (!Number.isFinite(throttleSeconds) || throttleSeconds <= 0)
      throw invalid('throttleSeconds', 'must be positive');
    const now = clock.now();
    const key = cleanText(input.key, 512);
    const windowKey = throttleKey(input.rule, key);
    const known = openWindows.get(windowKey);
    if (known && known.until > now.getTime()) {
      known.pending++;
      scheduleSuppressedFlush();
      return null;
    }
    // Raises this process counted in the window that has just closed.
    const carry = known?.pending ?? 0;
    if (known) known.pending = 0;
    let outcome: { alert: Alert | null; windowEnd: number };
    try {
      outcome = await raiseBatched({
        input,
        key,
        now,
        carry,
        throttleSeconds,
        sinkNames,
        details,
      });
    } catch (err) {
      if (known) known.pending += carry;
      throw err;
    }
    // Only a committed window is remembered: a rolled-back one must not silence the next raise.
    remember(windowKey, input.rule, key, outcome.windowEnd);
    if (outcome.alert) nudge();
    return outcome.alert;
  }

  // Raises that reach the database in the same event-loop turn share one transaction: an alert storm
  // (a thousand accounts crossing the burst threshold in one batch of logins) costs a handful of
  // statements instead of seven round trips per alert. Batches run one after another.
  interface QueuedRaise {
    input: RaiseAlertInput;
    key: string;
    now: Date;
    carry: number;
    throttleSeconds: number;
    sinkNames: string[];
    details: Record<string, unknown>;
    resolve: (outcome: { alert: Alert | null; windowEnd: number }) => void;
    reject: (err: unknown) => void;
  }
  let raiseQueue: QueuedRaise[] = [];
  let raiseRunning: Promise<void> | null = null;
  const RAISE_BATCH = 500;

  function raiseBatched(
    item: Omit<QueuedRaise, 'resolve' | 'reject'>,
  ): Promise<{ alert: Alert | null; windowEnd: number }> {
    return new Promise((resolve, reject) => {
      raiseQueue.push({ ...item, resolve, reject });
      if (!raiseRunning) raiseRunning = new Promise((done) => setImmediate(done)).then(drainRaises);
    });
  }

  async function drainRaises(): Promise<void> {
    while (raiseQueue.length > 0) {
      const batch = raiseQueue.slice(0, RAISE_BATCH);
      raiseQueue = raiseQueue.slice(RAISE_BATCH);
      try {
        const outcomes = await raiseInTransaction(batch);
        batch.forEach((b, i) => b.resolve(outcomes[i] as { alert: Alert | null; windowEnd: number }));
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    raiseRunning = null;
  }

  async function raiseInTransaction(
    batch: QueuedRaise[],
  ): Promise<{ alert: Alert | null; windowEnd: number }[]> {
    // The distinct (rule, key) pairs of the batch. The statements below lock their throttle rows in
    // (rule, key) order, so concurrent batches (even in other processes) wait instead of deadlocking.
    const pairs = new Map<string, { rule: string; key: string }>();
    for (const b of batch) pairs.set(throttleKey(b.input.rule, b.key), { rule: b.input.rule, key: b.key });
    const distinct = [...pairs.values()];
    const rules = distinct.map((p) => p.rule);
    const keys = distinct.map((p) => p.key);
    return db.transaction().execute(async (trx) => {
      // The throttle row is created once, then locked: concurrent raisers serialise on it, and exactly
      // one opens each window.
      await sql`INSERT INTO alert_throttle (rule, alert_key, window_start, window_end, suppressed)
        SELECT r, k, 'epoch', 'epoch', 0 FROM unnest(${rules}::text[], ${keys}::text[]) AS p(r, k)
        ORDER BY r COLLATE "C", k COLLATE "C"
        ON CONFLICT DO NOTHING`.execute(trx);
      const state = await sql<{ rule: string; alert_key: string; window_end: Date; suppressed: number }>`
        SELECT t.rule, t.alert_key, t.window_end, t.suppressed FROM alert_throttle t
        JOIN unnest(${rules}::text[], ${keys}::text[]) AS p(r, k) ON t.rule = p.r AND t.alert_key = p.k
        ORDER BY t.rule COLLATE "C", t.alert_key COLLATE "C"
        FOR UPDATE OF t`.execute(trx);
      const windows = new Map<string, ThrottleWindow>();
      for (const r of state.rows) {
        windows.set(throttleKey(r.rule, r.alert_key), {
          windowStart: null,
          windowEnd: new Date(r.window_end).getTime(),
          suppressed: Number(r.suppressed),
        });
      }
      // Each raise in arrival order: the first past a closed window opens the next one; the others
      // count as suppressed in it.
      const outcomes: { alert: Alert | null; windowEnd: number }[] = [];
      const alerts: { alert: Alert; sinks: string[] }[] = [];
      for (const b of batch) {
        const w = windows.get(throttleKey(b.input.rule, b.key)) as ThrottleWindow;
        if (w.windowEnd > b.now.getTime()) {
          w.suppressed += 1 + b.carry;
          outcomes.push({ alert: null, windowEnd: w.windowEnd });
          continue;
        }
        const carried = w.suppressed + b.carry;
        w.windowStart = b.now;
        w.windowEnd = b.now.getTime() + b.throttleSeconds * 1000;
        w.suppressed = 0;
        const alert: Alert = {
          id: newId(),
          rule: b.input.rule,
          key: b.key,
          severity: b.input.severity,
          title: redactText(cleanText(b.input.title, 512)),
          message: redactText(cleanText(b.input.message ?? b.input.title, 4096)),
          details: b.details,
          suppressed: carried,
          occurredAt: b.input.occurredAt ?? b.now,
          createdAt: b.now,
        };
        alerts.push({ alert, sinks: b.sinkNames });
        outcomes.push({ alert, windowEnd: w.windowEnd });
      }
      const changed = distinct.map((p) => windows.get(throttleKey(p.rule, p.key)) as ThrottleWindow);
      await sql`UPDATE alert_throttle AS t
        SET window_start = coalesce(c.ws, t.window_start), window_end = c.we, suppressed = c.s
        FROM unnest(${rules}::text[], ${keys}::text[], ${changed.map((w) => w.windowStart?.toISOString() ?? null)}::timestamptz[],
          ${changed.map((w) => new Date(w.windowEnd).toISOString())}::timestamptz[],
          ${changed.map((w) => w.suppressed)}::int8[]) AS c(r, k, ws, we, s)
        WHERE t.rule = c.r AND t.alert_key = c.k`.execute(trx);
      if (alerts.length > 0) {
        await trx
          .insertInto('alert')
          .values(
            alerts.map(({ alert }) => ({
              id: alert.id,
              rule: alert.rule,
              alert_key: alert.key,
              severity: alert.severity,
              title: alert.title,
              message: alert.message,
              details: JSON.stringify(alert.details),
              suppressed: alert.suppressed,
              occurred_at: alert.occurredAt,
              created_at: alert.createdAt,
            })),
          )
          .execute();
        const deliveries = alerts.flatMap(({ alert, sinks: names }) =>
          names.map((sink) => ({
            id: newId(),
            alert_id: alert.id,
            sink,
            next_attempt_at: alert.createdAt,
            last_error: null,
            created_at: alert.createdAt,
            delivered_at: null,
          })),
        );
        if (deliveries.length > 0) await trx.insertInto('alert_outbox').values(deliveries).execute();
      }
      return outcomes;
    });
  }

  function remember(windowKey: string, rule: string, key: string, until: number): void {
    const w = openWindows.get(windowKey);
    if (w) {
      w.until = until;
      return;
    }
    // Many keys raising once each (a distributed attack) must not grow the map without end: closed
    // windows with nothing left to store are dropped.
    if (openWindows.size >= 10_000) dropClosedWindows(clock.now().getTime());
    openWindows.set(windowKey, { rule, key, until, pending: 0 });
  }

  function nudge(): void {
    if (closed || !config.delivery.enabled) return;
    setImmediate(
      () => void pump().catch((err: unknown) => logger.error({ err }, 'alerts: dispatcher failed')),
    );
  }

  function pump(): Promise<number> {
    // A nudge scheduled just before close() must not reach a closed database.
    if (closed) return Promise.resolve(0);
    if (pumping) {
      again = true;
      return pumping;
    }
    pumping = (async () => {
      let total = 0;
      do {
        again = false;
        total += await deliverDue();
      } while (again && !closed);
      return total;
    })().finally(() => {
      pumping = null;
    });
    return pumping;
  }

  async function deliverDue(): Promise<number> {
    const now = clock.now();
    // Claim due rows by pushing their next attempt past the attempt timeout: another dispatcher (or a
    // restart after a crash mid-attempt) picks them up again only if this attempt never reports back.
    const lease = new Date(now.getTime() + config.delivery.timeoutMs + 30_000);
    const claimed = await sql<{ id: string; alert_id: string; sink: string; attempts: number }>`
      UPDATE alert_outbox SET next_attempt_at = ${lease}, attempts = attempts + 1
      WHERE id IN (
        SELECT id FROM alert_outbox WHERE status = 'pending' AND next_attempt_at <= ${now}
        ORDER BY next_attempt_at LIMIT 50 FOR UPDATE SKIP LOCKED)
      RETURNING id, alert_id, sink, attempts`.execute(db);
    if (claimed.rows.length === 0) return 0;
    const alerts = await db
      .selectFrom('alert')
      .selectAll()
      .where(
        'id',
        'in',
        claimed.rows.map((r) => r.alert_id),
      )
      .execute();
    const byId = new Map(alerts.map((a) => [a.id, toAlert(a)]));
    // Every attempt of the pass first, then their outcomes in one statement.
    const outcomes = await Promise.all(
      claimed.rows.map(async (row) => {
        const alert = byId.get(row.alert_id);
        const sink = sinks.get(row.sink);
        const started = performance.now();
        const result =
          alert && sink
            ? await sink.deliver(alert, row.id)
            : { ok: false as const, error: `sink '${row.sink}' is no longer configured` };
        const at = clock.now();
        const attempts = Number(row.attempts);
        const giveUp = !result.ok && (attempts >= config.delivery.maxAttempts || !sink);
        const attempt: DeliveryAttempt = {
          sink: row.sink,
          outcome: result.ok ? 'delivered' : giveUp ? 'failed' : 'retry',
          durationSeconds: (performance.now() - started) / 1000,
        };
        for (const listener of deliveryListeners) listener(attempt);
        if (result.ok) return { id: row.id, status: 'delivered', at, next: null, error: null };
        const next = new Date(at.getTime() + backoffDelay(attempts, config.delivery, result.retryAfterMs));
        (giveUp ? logger.error : logger.warn).call(
          logger,
          { delivery: row.id, sink: row.sink, attempts, error: result.error },
          giveUp ? 'alerts: delivery failed for good' : 'alerts: delivery failed, will retry',
        );
        if (!giveUp) scheduleRetry(next.getTime() - at.getTime());
        return {
          id: row.id,
          status: giveUp ? 'failed' : 'pending',
          at,
          next,
          error: cleanText(result.error, 1024),
        };
      }),
    );
    await sql`UPDATE alert_outbox AS o
      SET status = u.status,
        delivered_at = CASE WHEN u.status = 'delivered' THEN u.at ELSE o.delivered_at END,
        next_attempt_at = coalesce(u.next, o.next_attempt_at),
        last_error = u.error
      FROM unnest(${outcomes.map((o) => o.id)}::uuid[], ${outcomes.map((o) => o.status)}::text[],
        ${outcomes.map((o) => o.at.toISOString())}::timestamptz[],
        ${outcomes.map((o) => o.next?.toISOString() ?? null)}::timestamptz[],
        ${outcomes.map((o) => o.error)}::text[]) AS u(id, status, at, next, error)
      WHERE o.id = u.id`.execute(db);
    return claimed.rows.length;
  }

  // Between polls, wake up exactly when a retry is due (the poll interval may be long).
  function scheduleRetry(ms: number): void {
    if (closed || !config.delivery.enabled) return;
    const t = setTimeout(() => nudge(), Math.max(0, ms) + 5);
    t.unref();
  }

  function ruleOf(name: keyof ResolvedAlertsConfig['rules']): ResolvedRule | null {
    const rule = config.rules[name];
    return rule.enabled ? rule : null;
  }

  // Failed logins of one tick (a group-committed batch) are counted in one query.
  const countFailures = createBatchLoader(
    async (requests: { username: string; since: Date; at: Date }[]): Promise<number[]> => {
      const rows = await sql<{ i: number; n: number }>`
        SELECT r.i, (
          SELECT count(*) FROM login_history AS h
          WHERE h.username = r.username AND NOT h.success AND h.login_at > r.since AND h.login_at <= r.at
        )::int AS n
        FROM json_to_recordset(${JSON.stringify(requests.map((q, i) => ({ i, ...q })))}::json)
          AS r(i int, username text, since timestamptz, at timestamptz)`.execute(db);
      const counts = new Array<number>(requests.length).fill(0);
      for (const row of rows.rows) counts[row.i] = Number(row.n);
      return counts;
    },
  );

  async function onLogin(record: LoginRecord): Promise<void> {
    const burst = config.rules.failedLoginBurst;
    if (!record.success && burst.enabled) {
      const since = new Date(record.loginAt.getTime() - burst.windowSeconds * 1000);
      const count = await countFailures({ username: record.username, since, at: record.loginAt });
      if (count >= burst.threshold) {
        await raise(
          {
            rule: 'failed_login_burst',
            key: record.username,
            severity: 'warning',
            title: `Multiple failed login attempts for ${record.username}`,
            message: `${count} failed login attempts for ${record.username} within ${burst.windowSeconds / 60} minutes (threshold ${burst.threshold}).`,
            details: {
              username: record.username,
              count,
              threshold: burst.threshold,
              windowSeconds: burst.windowSeconds,
              lastIp: record.ipAddress,
              lastFailureReason: record.failureReason,
            },
            occurredAt: record.loginAt,
          },
          burst,
        );
      }
    }
  }

  // Signals arrive as committed `suspicious_activity` events and as `new_country` on a `login_success`,
  // so these rules cost no query of their own.
  async function onSecurityEvent(event: SecurityEvent): Promise<void> {
    const ctx = event.context ?? {};
    const signal = ruleOf('detectionSignal');
    if (signal && event.type === 'suspicious_activity' && typeof ctx['pattern'] === 'string') {
      const pattern = ctx['pattern'];
      const key = String(ctx['key'] ?? event.ipAddress ?? event.username ?? 'unknown');
      await raise(
        {
          rule: 'detection_signal',
          key: `${pattern}:${key}`,
          severity: 'critical',
          title: `Detection: ${pattern.replace(/_/g, ' ')} (${key})`,
          message: `${pattern} tripped for ${key}: ${String(ctx['count'] ?? '?')} within ${String(ctx['window_seconds'] ?? '?')} s (threshold ${String(ctx['threshold'] ?? '?')}).`,
          details: { ...ctx, eventId: event.id, username: event.username, ip: event.ipAddress },
          occurredAt: event.occurredAt,
        },
        signal,
      );
    }
    const country = ruleOf('newCountry');
    const signals = Array.isArray(ctx['signals']) ? (ctx['signals'] as Record<string, unknown>[]) : [];
    if (
      country &&
      event.type === 'login_success' &&
      event.userId !== null &&
      typeof ctx['country'] === 'string' &&
      signals.some((sig) => sig?.['pattern'] === 'new_country')
    ) {
      const c = ctx['country'];
      await raise(
        {
          rule: 'new_country',
          key: `${event.userId}:${c}`,
          severity: 'warning',
          title: `Login from new country ${c} for ${event.username ?? event.userId}`,
          message: `${event.username ?? event.userId} logged in from ${c}, not seen for this user in the last ${config.rules.newCountry.lookbackDays} days.`,
          details: {
            userId: event.userId,
            username: event.username,
            country: c,
            city: ctx['city'] ?? null,
            ip: event.ipAddress,
          },
          occurredAt: event.occurredAt,
        },
        country,
      );
    }
  }

  interface ChangeRow {
    id: string;
    title: string;
    impact_level: string;
    approval_status: string;
    performed_by_id: string;
    performed_by_name: string;
    deployed_at: Date;
    environment: string;
    ticket: string | null;
  }

  function changeDetails(c: ChangeRow): Record<string, unknown> {
    return {
      changeId: c.id,
      title: c.title,
      impactLevel: c.impact_level,
      approvalStatus: c.approval_status,
      performedBy: { id: c.performed_by_id, name: c.performed_by_name },
      deployedAt: new Date(c.deployed_at).toISOString(),
      environment: c.environment,
      ticket: c.ticket,
    };
  }

  // Changes of a rule not alerted yet (an alert is keyed by the change id): each change once.
  const notAlerted = (rule: string) =>
    sql<boolean>`NOT EXISTS (SELECT 1 FROM alert a WHERE a.rule = ${rule} AND a.alert_key = c.id::text)`;

  async function checkChanges(): Promise<ChangeCheckResult> {
    const now = clock.now();
    const result: ChangeCheckResult = { criticalChangeUnapproved: 0, emergencyChangeUnapproved: 0 };
    const critical = ruleOf('criticalChangeUnapproved');
    if (critical) {
      const since = new Date(
        now.getTime() - criticalLookbackMs(config.rules.criticalChangeUnapproved.checkEveryMinutes),
      );
      // Pending or rejected and yet deployed; emergency changes have their own rule (grace period).
      const rows = await sql<ChangeRow>`
        SELECT id, title, impact_level, approval_status, performed_by_id, performed_by_name, deployed_at,
          environment, ticket
        FROM change_log c
        WHERE impact_level = 'critical' AND approval_status IN ('pending', 'rejected')
          AND deployed_at >= ${since} AND deployed_at <= ${now} AND ${notAlerted('critical_change_unapproved')}
        ORDER BY deployed_at, id LIMIT 500`.execute(db);
      for (const c of rows.rows) {
        const alert = await raise(
          {
            rule: 'critical_change_unapproved',
            key: c.id,
            severity: 'critical',
            title: `Critical change deployed without approval: ${c.title}`,
            message: `Critical change "${c.title}" (${c.id}) was deployed to ${c.environment} at ${new Date(c.deployed_at).toISOString()} by ${c.performed_by_name} and is ${c.approval_status === 'rejected' ? 'rejected' : 'not approved'}.`,
            details: changeDetails(c),
            occurredAt: new Date(c.deployed_at),
          },
          critical,
        );
        if (alert) result.criticalChangeUnapproved++;
      }
    }
    const emergency = ruleOf('emergencyChangeUnapproved');
    if (emergency) {
      const graceMs = config.rules.emergencyChangeUnapproved.graceHours * 3_600_000;
      const dueBefore = new Date(now.getTime() - graceMs);
      const since = new Date(dueBefore.getTime() - EMERGENCY_LOOKBACK_MS);
      const rows = await sql<ChangeRow>`
        SELECT id, title, impact_level, approval_status, performed_by_id, performed_by_name, deployed_at,
          environment, ticket
        FROM change_log c
        WHERE approval_status = 'emergency' AND deployed_at <= ${dueBefore} AND deployed_at >= ${since}
          AND ${notAlerted('emergency_change_unapproved')}
        ORDER BY deployed_at, id LIMIT 500`.execute(db);
      for (const c of rows.rows) {
        const alert = await raise(
          {
            rule: 'emergency_change_unapproved',
            key: c.id,
            severity: c.impact_level === 'critical' ? 'critical' : 'error',
            title: `Emergency change not approved after the fact: ${c.title}`,
            message: `Emergency change "${c.title}" (${c.id}, impact ${c.impact_level}) was deployed at ${new Date(c.deployed_at).toISOString()} by ${c.performed_by_name} and still has no approval after ${config.rules.emergencyChangeUnapproved.graceHours} h.`,
            details: { ...changeDetails(c), graceHours: config.rules.emergencyChangeUnapproved.graceHours },
            occurredAt: new Date(c.deployed_at.valueOf() + graceMs),
          },
          emergency,
        );
        if (alert) result.emergencyChangeUnapproved++;
      }
    }
    return result;
  }

  async function onDetectionDegraded(err: unknown): Promise<void> {
    const rule = ruleOf('detectionDegraded');
    if (!rule) return;
    await raise(
      {
        rule: 'detection_degraded',
        key: 'redis',
        severity: 'error',
        title: 'Detection degraded: Redis is unreachable',
        message: `Detection continues on in-process state (not shared between servers): ${(err as Error)?.message ?? String(err)}`,
        details: { error: (err as Error)?.message ?? String(err) },
      },
      rule,
    );
  }

  if (config.delivery.enabled) {
    timer = setInterval(() => nudge(), config.delivery.pollIntervalMs);
    timer.unref();
    // Deliveries left over from before a restart.
    nudge();
  }

  return {
    config,
    raise: (input) => raise(input),
    onLogin,
    checkChanges,
    onSecurityEvent,
    onDetectionDegraded,
    background,

    async list(options = {}) {
      const limit = options.limit ?? 50;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
        throw invalid('limit', 'must be a whole number from 1 to 1000');
      let q = db.selectFrom('alert').selectAll();
      if (options.rule !== undefined) q = q.where('rule', '=', options.rule);
      const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
      return rows.map(toAlert);
    },

    async deliveries(options = {}) {
      const limit = options.limit ?? 100;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
        throw invalid('limit', 'must be a whole number from 1 to 1000');
      let q = db.selectFrom('alert_outbox').selectAll();
      if (options.alertId !== undefined) q = q.where('alert_id', '=', options.alertId);
      if (options.status !== undefined) q = q.where('status', '=', options.status);
      const rows = await q.orderBy('created_at', 'desc').orderBy('id').limit(limit).execute();
      return rows.map((r) => ({
        id: r.id,
        alertId: r.alert_id,
        sink: r.sink,
        status: r.status as AlertDelivery['status'],
        attempts: Number(r.attempts),
        nextAttemptAt: new Date(r.next_attempt_at),
        lastError: r.last_error,
        deliveredAt: r.delivered_at === null ? null : new Date(r.delivered_at),
      }));
    },

    deliverDue: () => pump(),

    async outboxStatus() {
      // Pending rows only: the partial index covers them, and delivered rows are never scanned.
      const r = await sql<{ pending: string | number; oldest: Date | string | null }>`
        SELECT count(*) AS pending, min(created_at) AS oldest FROM alert_outbox
        WHERE status = 'pending'`.execute(db);
      const row = r.rows[0];
      const oldest = row?.oldest ? new Date(row.oldest).getTime() : null;
      return {
        pending: Number(row?.pending ?? 0),
        oldestPendingSeconds: oldest === null ? 0 : Math.max(0, (clock.now().getTime() - oldest) / 1000),
      };
    },

    onDelivery(listener) {
      deliveryListeners.add(listener);
      return () => deliveryListeners.delete(listener);
    },

    async flush() {
      while (pending.size > 0) await Promise.all([...pending]);
      await flushSuppressed();
      await pump();
    },

    async close() {
      if (closed) return;
      while (pending.size > 0) await Promise.all([...pending]);
      closed = true;
      if (timer) clearInterval(timer);
      if (suppressedTimer) clearTimeout(suppressedTimer);
      await flushSuppressed().catch((err: unknown) =>
        logger.error({ err }, 'alerts: suppressed counts not saved'),
      );
      await pumping?.catch(() => undefined);
      for (const s of sinks.values()) s.close();
    },
  };
}
