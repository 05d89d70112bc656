/**
 * SQL for security events (one set-based INSERT per group-committed batch), the queries detection
 * needs from login history, and the shared detection secret.
 * @module
 */
import { sql } from 'kysely';
import type { Kysely, RawBuilder, Selectable } from 'kysely';
import type {
  SecurityCategory,
  SecurityEvent,
  SecurityEventType,
  Severity,
} from '../domain/security-event.ts';
import { insertIdempotencyItems } from '../store/idempotency-store.ts';
import type { IdempotencyItem } from '../store/idempotency-store.ts';
import { beforeKeyset, ipMatches } from '../store/sql-filters.ts';
import type { Database, SecurityEventsTable } from '../store/schema.ts';

/** Filters the repository understands (already validated). */
export interface EventFilter {
  type?: string | undefined;
  category?: string | undefined;
  severity?: string | undefined;
  ip?: { address: string; prefix: number | null } | undefined;
  username?: string | undefined;
  userId?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  before?: { occurredAt: Date; id: string } | undefined;
}

/** A previous successful login with its location. */
export interface LocatedLogin {
  id: string;
  loginAt: Date;
  country: string | null;
  latitude: number | null;
  longitude: number | null;
  accuracyKm: number | null;
}

/**
 * The window a signal event claims: it is stored only when no event of `pattern` for `subject` holds a
 * claim within `windowSeconds` of its time, in any process (see migration 0014).
 */
export interface SignalClaim {
  pattern: string;
  /** `i:<address>` or `a:<account's keyed hash>`. */
  subject: string;
  windowSeconds: number;
}

export interface SecurityRepository {
  /**
   * Inserts the events; an event with a claim (`claimOf`) is left out when another holds its window.
   * An event that is the item of a keyed request (`itemOf`, never a claimed one) has that item
   * recorded by the same statement. Resolves to the ids left out.
   */
  insertBatch(
    rows: SecurityEvent[],
    claimOf?: (event: SecurityEvent) => SignalClaim | undefined,
    itemOf?: (event: SecurityEvent) => Omit<IdempotencyItem, 'recordId'> | undefined,
    now?: Date,
  ): Promise<Set<string>>;
  /** One stored event (of security_event_rows) by id, or null. */
  get(id: string): Promise<SecurityEvent | null>;
  /**
   * The INSERT of events raised for logins, to run inside the login batch's statement: who, where,
   * when and why (username, user id, address, user agent, time, failure reason) are read from the
   * batch's login rows in relation `logins`, joined on `loginId`, instead of being sent twice.
   */
  insertForLogins(
    events: { event: SecurityEvent; loginId?: string | undefined; claim?: SignalClaim | undefined }[],
    logins: string,
  ): RawBuilder<unknown>;
  /** Which of `ids` (events raised at `at`) are stored: after a claim may have left some out. */
  storedIds(events: { id: string; at: Date }[]): Promise<Set<string>>;
  find(filter: EventFilter, limit: number): Promise<SecurityEvent[]>;
  /**
   * For each login being recorded: the user's previous successful login and whether `country` was
   * seen in [since, before]. One query per batch (by user id, and by username for unknown ids).
   */
  loginContext(requests: LoginContextRequest[]): Promise<LoginContext[]>;
  /** Returns the stored secret `name`, creating it with `candidate` the first time (race-safe). */
  secret(name: string, candidate: string): Promise<string>;
}

type Row = Selectable<SecurityEventsTable>;

export function toEvent(r: Row): SecurityEvent {
  return {
    id: r.id,
    type: r.event_type as SecurityEventType,
    category: r.category as SecurityCategory,
    severity: r.severity as Severity,
    occurredAt: new Date(r.occurred_at),
    username: r.username,
    userId: r.user_id,
    ipAddress: r.ip_address,
    userAgent: r.user_agent,
    reason: r.reason,
    context: r.context ?? {},
  };
}

export interface LoginContextRequest {
  userId: string | null;
  username: string;
  before: Date;
  excludeId: string;
  country: string | null;
  since: Date;
}

export interface LoginContext {
  previous: LocatedLogin | null;
  seenCountry: boolean;
}

const LOGIN_EVENT_TYPES = new Set(['login_success', 'login_failed']);

/** The first `limit` rows of two lists each sorted newest first (occurred_at, then id, descending). */
function mergeNewestFirst(a: Row[], b: Row[], limit: number): Row[] {
  const out: Row[] = [];
  let i = 0;
  let j = 0;
  const key = (r: Row) => new Date(r.occurred_at).getTime();
  while (out.length < limit && (i < a.length || j < b.length)) {
    const x = a[i];
    const y = b[j];
    if (!y || (x && (key(x) > key(y) || (key(x) === key(y) && x.id > y.id)))) {
      out.push(x as Row);
      i++;
    } else {
      out.push(y);
      j++;
    }
  }
  return out;
}

export function createSecurityRepository(db: Kysely<Database>): SecurityRepository {
  // A claimed event is inserted only when detection_claim_signal() gives it the window; CASE keeps the
  // function from being called for every other event.
  const claimed = (at: string) =>
    sql.raw(`CASE WHEN e."claimPattern" IS NULL THEN TRUE
    ELSE detection_claim_signal(e."claimPattern", e."claimSubject", ${at}, e."claimWindow") END`);
  const claimFields = (claim: SignalClaim | undefined) =>
    claim
      ? { claimPattern: claim.pattern, claimSubject: claim.subject, claimWindow: claim.windowSeconds }
      : {};

  function insertStatement(
    rows: SecurityEvent[],
    claimOf: ((event: SecurityEvent) => SignalClaim | undefined) | undefined,
    returning: boolean,
  ): RawBuilder<{ id: string }> {
    // camelCase keys as the events have them; the date as a string beforehand, because a Date's toJSON
    // puts JSON.stringify on its slow path for every row (half the cost of the whole call).
    const payload = JSON.stringify(
      rows.map((e) => ({ ...e, occurredAt: e.occurredAt.toISOString(), ...claimFields(claimOf?.(e)) })),
    );
    return sql<{ id: string }>`
      INSERT INTO security_event_rows (id, event_type, category, severity, occurred_at, username, user_id,
        ip_address, user_agent, reason, context)
      SELECT id, type, category, severity, "occurredAt", username, "userId", "ipAddress", "userAgent",
        reason, coalesce(context, '{}'::jsonb)
      FROM json_to_recordset(${payload}::json) AS e(
        id uuid, type text, category text, severity text, "occurredAt" timestamptz, username text,
        "userId" text, "ipAddress" inet, "userAgent" text, reason text, context jsonb,
        "claimPattern" text, "claimSubject" text, "claimWindow" integer)
      ${claimOf ? sql`WHERE ${claimed('e."occurredAt"')}` : sql``}
      ${returning ? sql`RETURNING id` : sql``}`;
  }

  return {
    async insertBatch(rows, claimOf, itemOf, now = new Date()) {
      const claims = claimOf ? rows.filter((e) => claimOf(e) !== undefined) : [];
      const items: IdempotencyItem[] = [];
      if (itemOf)
        for (const e of rows) {
          const item = itemOf(e);
          if (item) items.push({ ...item, recordId: e.id });
        }
      // Ids come back only when something reads them: the claims, or the WITH that records the items.
      const insert = insertStatement(
        rows,
        claims.length ? claimOf : undefined,
        claims.length > 0 || items.length > 0,
      );
      // The items are recorded by the same statement as their rows: both commit, or neither does. A
      // second copy of an item (an overlapping attempt with the key) fails on the items' primary key
      // instead of storing a duplicate event (the group commit then retries each event alone).
      const result = await (
        items.length
          ? sql<{ id: string }>`WITH inserted AS (${insert}), items AS (${insertIdempotencyItems(items, now)})
              SELECT id FROM inserted`
          : insert
      ).execute(db);
      if (claims.length === 0) return new Set();
      const stored = new Set(result.rows.map((r) => r.id));
      return new Set(claims.filter((e) => !stored.has(e.id)).map((e) => e.id));
    },

    insertForLogins(events, logins) {
      const payload = JSON.stringify(
        events.map(({ event: e, loginId, claim }) => {
          if (loginId === undefined) throw new TypeError(`event ${e.id} was not raised for a login`);
          return {
            id: e.id,
            loginId,
            type: e.type,
            category: e.category,
            severity: e.severity,
            context: e.context,
            ...claimFields(claim),
          };
        }),
      );
      return sql`
        INSERT INTO security_event_rows (id, event_type, category, severity, occurred_at, username, user_id,
          ip_address, user_agent, reason, context)
        SELECT e.id, e.type, e.category, e.severity, l."loginAt", l.username, l."userId", l."ipAddress",
          l."userAgent", l."failureReason", coalesce(e.context, '{}'::jsonb)
        FROM json_to_recordset(${payload}::json) AS e(
          id uuid, "loginId" uuid, type text, category text, severity text, context jsonb,
          "claimPattern" text, "claimSubject" text, "claimWindow" integer)
        JOIN ${sql.raw(logins)} AS l ON l.id = e."loginId"
        WHERE ${claimed('l."loginAt"')}`;
    },

    async get(id) {
      const row = await db
        .selectFrom('security_event_rows')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst();
      return row ? toEvent(row as Row) : null;
    },

    async storedIds(events) {
      if (events.length === 0) return new Set();
      const rows = await sql<{ id: string }>`
        SELECT id FROM security_event_rows
        WHERE (occurred_at, id) IN (SELECT * FROM unnest(
          ${events.map((e) => e.at.toISOString())}::timestamptz[], ${events.map((e) => e.id)}::uuid[]))`.execute(
        db,
      );
      return new Set(rows.rows.map((r) => r.id));
    },

    async find(f, limit) {
      // security_events is a UNION ALL view, which the planner answers by sorting every row; each of its
      // two parts walks its own time index, so each is read (at most `limit` rows) and the two merged.
      const part = (relation: 'security_event_rows' | 'login_events') => {
        let q = db.selectFrom(relation).selectAll();
        if (f.type !== undefined) q = q.where('event_type', '=', f.type);
        if (f.category !== undefined) q = q.where('category', '=', f.category);
        if (f.severity !== undefined) q = q.where('severity', '=', f.severity);
        if (f.username !== undefined) q = q.where('username', '=', f.username);
        if (f.userId !== undefined) q = q.where('user_id', '=', f.userId);
        if (f.from !== undefined) q = q.where('occurred_at', '>=', f.from);
        if (f.to !== undefined) q = q.where('occurred_at', '<', f.to);
        if (f.ip !== undefined) q = q.where(ipMatches(f.ip));
        if (f.before !== undefined)
          q = q.where(beforeKeyset('occurred_at', f.before.occurredAt, f.before.id));
        return q.orderBy('occurred_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
      };
      // Login events are login_success / login_failed in category authentication, nothing else.
      const loginsMayMatch =
        (f.type === undefined || LOGIN_EVENT_TYPES.has(f.type)) &&
        (f.category === undefined || f.category === 'authentication');
      const [rows, logins] = await Promise.all([
        part('security_event_rows'),
        loginsMayMatch ? part('login_events') : Promise.resolve([]),
      ]);
      return mergeNewestFirst(rows, logins, limit).map(toEvent);
    },

    async loginContext(requests) {
      const out: LoginContext[] = requests.map(() => ({ previous: null, seenCountry: false }));
      const byKey = { user_id: [] as number[], username: [] as number[] };
      requests.forEach((r, i) => (r.userId !== null ? byKey.user_id : byKey.username).push(i));
      for (const column of ['user_id', 'username'] as const) {
        const idx = byKey[column];
        if (idx.length === 0) continue;
        const pick = <T>(f: (r: LoginContextRequest) => T) =>
          idx.map((i) => f(requests[i] as LoginContextRequest));
        const col = sql.ref(`h.${column}`);
        const rows = await sql<{
          i: number;
          id: string | null;
          login_at: Date | null;
          country: string | null;
          latitude: number | null;
          longitude: number | null;
          geo_accuracy_km: number | null;
          seen: boolean;
        }>`
          SELECT q.i, p.id, p.login_at, p.country, p.latitude, p.longitude, p.geo_accuracy_km,
            (q.country IS NOT NULL AND EXISTS (
              SELECT 1 FROM login_history h
              WHERE ${col} = q.k AND h.success AND h.country = q.country
                AND h.login_at >= q.since AND h.login_at <= q.before AND h.id <> q.exclude)) AS seen
          FROM unnest(${idx}::int[], ${pick((r) => (column === 'user_id' ? r.userId : r.username))}::text[],
            ${pick((r) => r.before.toISOString())}::timestamptz[], ${pick((r) => r.excludeId)}::uuid[],
            ${pick((r) => r.country)}::text[], ${pick((r) => r.since.toISOString())}::timestamptz[])
            AS q(i, k, before, exclude, country, since)
          LEFT JOIN LATERAL (
            SELECT h.id, h.login_at, h.country, h.latitude, h.longitude, h.geo_accuracy_km
            FROM login_history h
            WHERE ${col} = q.k AND h.success AND h.login_at <= q.before AND h.id <> q.exclude
            ORDER BY h.login_at DESC, h.id DESC LIMIT 1) p ON TRUE`.execute(db);
        for (const row of rows.rows) {
          out[row.i] = {
            previous:
              row.id !== null && row.login_at !== null
                ? {
                    id: row.id,
                    loginAt: new Date(row.login_at),
                    country: row.country,
                    latitude: row.latitude,
                    longitude: row.longitude,
                    accuracyKm: row.geo_accuracy_km,
                  }
                : null,
            seenCountry: row.seen,
          };
        }
      }
      return out;
    },

    async secret(name, candidate) {
      await db
        .insertInto('security_secret')
        .values({ name, value: candidate })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
      const row = await db
        .selectFrom('security_secret')
        .select('value')
        .where('name', '=', name)
        .executeTakeFirstOrThrow();
      return row.value;
    },
  };
}
