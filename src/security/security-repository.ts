/**
 * SQL for security events (one set-based INSERT per group-committed batch), the queries detection
 * needs from login history, and the shared detection secret.
 * @module
 */
import { sql } from 'kysely';
import type { Kysely, Selectable } from 'kysely';
import type {
  SecurityCategory,
  SecurityEvent,
  SecurityEventType,
  Severity,
} from '../domain/security-event.ts';
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

export interface SecurityRepository {
  insertBatch(rows: SecurityEvent[], executor?: Kysely<Database>): Promise<void>;
  find(filter: EventFilter, limit: number): Promise<SecurityEvent[]>;
  /** The user's latest successful login before `before` (excluding `excludeId`). */
  previousSuccess(
    user: { userId: string | null; username: string },
    before: Date,
    excludeId: string,
  ): Promise<LocatedLogin | null>;
  /** Whether the user logged in successfully from `country` in [since, before), excluding `excludeId`. */
  seenCountry(
    user: { userId: string | null; username: string },
    country: string,
    since: Date,
    before: Date,
    excludeId: string,
  ): Promise<boolean>;
  /** Returns the stored secret `name`, creating it with `candidate` the first time (race-safe). */
  secret(name: string, candidate: string): Promise<string>;
}

type Row = Selectable<SecurityEventsTable>;

function toEvent(r: Row): SecurityEvent {
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

export function createSecurityRepository(db: Kysely<Database>): SecurityRepository {
  function userMatch(user: { userId: string | null; username: string }) {
    return user.userId !== null ? sql`user_id = ${user.userId}` : sql`username = ${user.username}`;
  }
  return {
    async insertBatch(rows, executor = db) {
      const payload = JSON.stringify(
        rows.map((r) => ({
          id: r.id,
          event_type: r.type,
          category: r.category,
          severity: r.severity,
          occurred_at: r.occurredAt.toISOString(),
          username: r.username,
          user_id: r.userId,
          ip_address: r.ipAddress,
          user_agent: r.userAgent,
          reason: r.reason,
          context: r.context,
        })),
      );
      await sql`
        INSERT INTO security_events (id, event_type, category, severity, occurred_at, username, user_id,
          ip_address, user_agent, reason, context)
        SELECT id, event_type, category, severity, occurred_at, username, user_id, ip_address, user_agent,
          reason, coalesce(context, '{}'::jsonb)
        FROM jsonb_to_recordset(${payload}::jsonb) AS r(
          id uuid, event_type text, category text, severity text, occurred_at timestamptz, username text,
          user_id text, ip_address inet, user_agent text, reason text, context jsonb)`.execute(executor);
    },

    async find(f, limit) {
      let q = db.selectFrom('security_events').selectAll();
      if (f.type !== undefined) q = q.where('event_type', '=', f.type);
      if (f.category !== undefined) q = q.where('category', '=', f.category);
      if (f.severity !== undefined) q = q.where('severity', '=', f.severity);
      if (f.username !== undefined) q = q.where('username', '=', f.username);
      if (f.userId !== undefined) q = q.where('user_id', '=', f.userId);
      if (f.from !== undefined) q = q.where('occurred_at', '>=', f.from);
      if (f.to !== undefined) q = q.where('occurred_at', '<', f.to);
      if (f.ip !== undefined) {
        const { address, prefix } = f.ip;
        q =
          prefix === null
            ? q.where(sql<boolean>`ip_address = ${address}::inet`)
            : q.where(sql<boolean>`ip_address <<= ${`${address}/${prefix}`}::inet`);
      }
      if (f.before !== undefined) {
        q = q.where(
          sql<boolean>`(occurred_at, id) < (${f.before.occurredAt}::timestamptz, ${f.before.id}::uuid)`,
        );
      }
      const rows = await q.orderBy('occurred_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
      return rows.map(toEvent);
    },

    async previousSuccess(user, before, excludeId) {
      const r = await sql<{
        id: string;
        login_at: Date;
        country: string | null;
        latitude: number | null;
        longitude: number | null;
        geo_accuracy_km: number | null;
      }>`
        SELECT id, login_at, country, latitude, longitude, geo_accuracy_km FROM login_history
        WHERE ${userMatch(user)} AND success AND login_at <= ${before} AND id <> ${excludeId}::uuid
        ORDER BY login_at DESC, id DESC LIMIT 1`.execute(db);
      const row = r.rows[0];
      return row
        ? {
            id: row.id,
            loginAt: new Date(row.login_at),
            country: row.country,
            latitude: row.latitude,
            longitude: row.longitude,
            accuracyKm: row.geo_accuracy_km,
          }
        : null;
    },

    async seenCountry(user, country, since, before, excludeId) {
      const r = await sql<{ one: number }>`
        SELECT 1 AS one FROM login_history
        WHERE ${userMatch(user)} AND success AND country = ${country} AND login_at >= ${since}
          AND login_at <= ${before} AND id <> ${excludeId}::uuid
        LIMIT 1`.execute(db);
      return r.rows.length > 0;
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
