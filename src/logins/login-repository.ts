/**
 * SQL for login history. Inserts go through one set-based statement per batch that also maintains the
 * hourly rollup in the same statement, so dashboards never lag or double count.
 * @module
 */
import { sql } from 'kysely';
import type { Kysely, Selectable } from 'kysely';
import { beforeKeyset, ipMatches } from '../store/sql-filters.ts';
import type { Database, LoginHistoryTable } from '../store/schema.ts';
import type { DeviceType, LoginRecord, LoginType } from '../domain/login.ts';

/** A fully enriched row, ready to insert. */
export interface LoginRow {
  id: string;
  userId: string | null;
  username: string;
  loginType: LoginType;
  success: boolean;
  failureReason: string | null;
  ipAddress: string | null;
  userAgent: string | null;
  browser: string | null;
  browserVersion: string | null;
  os: string | null;
  deviceType: DeviceType;
  country: string | null;
  city: string | null;
  latitude: number | null;
  longitude: number | null;
  geoAccuracyKm: number | null;
  sessionKeyHash: string | null;
  loginAt: Date;
  metadata: Record<string, unknown>;
}

/** Filters the repository understands (already validated). */
export interface LoginFilter {
  userId?: string | undefined;
  username?: string | undefined;
  ip?: { address: string; prefix: number | null } | undefined;
  success?: boolean | undefined;
  loginType?: string | undefined;
  deviceType?: string | undefined;
  country?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  /** Keyset position: rows strictly older than this (loginAt, id). */
  before?: { loginAt: Date; id: string } | undefined;
}

type Row = Selectable<LoginHistoryTable>;

export function toLoginRecord(r: Row): LoginRecord {
  return {
    id: r.id,
    userId: r.user_id,
    username: r.username,
    loginType: r.login_type as LoginType,
    success: r.success,
    failureReason: r.failure_reason,
    ipAddress: r.ip_address,
    userAgent: r.user_agent,
    browser: r.browser,
    browserVersion: r.browser_version,
    os: r.os,
    deviceType: r.device_type as DeviceType,
    country: r.country,
    city: r.city,
    loginAt: new Date(r.login_at),
    logoutAt: r.logout_at === null ? null : new Date(r.logout_at),
    sessionDurationSeconds: r.session_duration_seconds,
    metadata: r.metadata ?? {},
  };
}

export interface LoginRepository {
  /** Inserts the batch (and its rollup counts) in one statement, on `executor` (a transaction) when given. */
  insertBatch(rows: LoginRow[], executor?: Kysely<Database>): Promise<void>;
  /** Closes the matching open successful login; returns the updated row or null. */
  closeSession(userId: string, sessionKeyHash: string | null, at: Date): Promise<LoginRecord | null>;
  lastSuccessful(userId: string): Promise<LoginRecord | null>;
  find(filter: LoginFilter, limit: number): Promise<LoginRecord[]>;
}

export function createLoginRepository(db: Kysely<Database>): LoginRepository {
  return {
    async insertBatch(rows, executor = db) {
      const payload = JSON.stringify(
        rows.map((r) => ({
          id: r.id,
          user_id: r.userId,
          username: r.username,
          login_type: r.loginType,
          success: r.success,
          failure_reason: r.failureReason,
          ip_address: r.ipAddress,
          user_agent: r.userAgent,
          browser: r.browser,
          browser_version: r.browserVersion,
          os: r.os,
          device_type: r.deviceType,
          country: r.country,
          city: r.city,
          latitude: r.latitude,
          longitude: r.longitude,
          geo_accuracy_km: r.geoAccuracyKm,
          session_key_hash: r.sessionKeyHash,
          login_at: r.loginAt.toISOString(),
          metadata: r.metadata,
        })),
      );
      await sql`
        WITH batch AS (
          SELECT * FROM jsonb_to_recordset(${payload}::jsonb) AS r(
            id uuid, user_id text, username text, login_type text, success boolean, failure_reason text,
            ip_address inet, user_agent text, browser text, browser_version text, os text, device_type text,
            country text, city text, latitude double precision, longitude double precision,
            geo_accuracy_km real, session_key_hash text, login_at timestamptz, metadata jsonb)
        ), inserted AS (
          INSERT INTO login_history (id, user_id, username, login_type, success, failure_reason, ip_address,
            user_agent, browser, browser_version, os, device_type, country, city, latitude, longitude,
            geo_accuracy_km, session_key_hash, login_at, metadata)
          SELECT id, user_id, username, login_type, success, failure_reason, ip_address, user_agent, browser,
            browser_version, os, device_type, country, city, latitude, longitude, geo_accuracy_km,
            session_key_hash, login_at, coalesce(metadata, '{}'::jsonb)
          FROM batch
          RETURNING login_at, success, login_type, device_type, country
        )
        INSERT INTO login_rollup_hourly AS r (hour, success, login_type, device_type, country, count)
        SELECT date_trunc('hour', login_at, 'UTC'), success, login_type, device_type, coalesce(country, ''), count(*)
        FROM inserted
        GROUP BY 1, 2, 3, 4, 5
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (hour, success, login_type, device_type, country)
        DO UPDATE SET count = r.count + excluded.count`.execute(executor);
    },

    async closeSession(userId, sessionKeyHash, at) {
      // With a session key: that session, or else a login recorded without one (never another keyed
      // session: a logout on one device must not close the session of another).
      const keyMatch =
        sessionKeyHash === null
          ? sql`TRUE`
          : sql`(session_key_hash = ${sessionKeyHash} OR session_key_hash IS NULL)`;
      const order =
        sessionKeyHash === null ? sql`login_at DESC` : sql`(session_key_hash IS NULL), login_at DESC`;
      const result = await sql<Row>`
        UPDATE login_history AS h
        SET logout_at = ${at},
            session_duration_seconds = greatest(0, extract(epoch FROM (${at}::timestamptz - h.login_at)))::double precision
        FROM (
          SELECT id, login_at FROM login_history
          WHERE user_id = ${userId} AND success AND logout_at IS NULL AND login_at <= ${at} AND ${keyMatch}
          ORDER BY ${order}
          LIMIT 1
        ) AS target
        WHERE h.id = target.id AND h.login_at = target.login_at
        RETURNING h.*`.execute(db);
      const row = result.rows[0];
      return row ? toLoginRecord(row) : null;
    },

    async lastSuccessful(userId) {
      const row = await db
        .selectFrom('login_history')
        .selectAll()
        .where('user_id', '=', userId)
        .where('success', '=', true)
        .orderBy('login_at', 'desc')
        .orderBy('id', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row ? toLoginRecord(row) : null;
    },

    async find(f, limit) {
      let q = db.selectFrom('login_history').selectAll();
      if (f.userId !== undefined) q = q.where('user_id', '=', f.userId);
      if (f.username !== undefined) q = q.where('username', '=', f.username);
      if (f.success !== undefined) q = q.where('success', '=', f.success);
      if (f.loginType !== undefined) q = q.where('login_type', '=', f.loginType);
      if (f.deviceType !== undefined) q = q.where('device_type', '=', f.deviceType);
      if (f.country !== undefined) q = q.where('country', '=', f.country);
      if (f.from !== undefined) q = q.where('login_at', '>=', f.from);
      if (f.to !== undefined) q = q.where('login_at', '<', f.to);
      if (f.ip !== undefined) q = q.where(ipMatches(f.ip));
      if (f.before !== undefined) q = q.where(beforeKeyset('login_at', f.before.loginAt, f.before.id));
      const rows = await q.orderBy('login_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
      return rows.map(toLoginRecord);
    },
  };
}
