/**
 * GDPR: export everything Trailguard holds about one of the application's users (right of access) and
 * erase it (right to erasure). Erasure removes the person's login history and security events, replaces
 * their name on change records with a pseudonym (the records stay: they are evidence of operations),
 * keeps aggregate counts (the hourly rollups), and writes a receipt. Unknown users are not an error.
 * @module
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Kysely, RawBuilder } from 'kysely';
import { newId } from '../domain/ids.ts';
import type { Logger } from '../config.ts';
import type { Clock } from '../domain/clock.ts';
import { invalid } from '../domain/errors.ts';
import type { LoginRecord } from '../domain/login.ts';
import { cleanText, isPlainObject } from '../domain/validation.ts';
import { toLoginRecord } from '../logins/login-repository.ts';
import { normalizeUserId } from '../logins/login-service.ts';
import type { Database } from '../store/schema.ts';

/** The user's data, as one JSON document. */
export interface PrivacyExport {
  userId: string;
  generatedAt: string;
  /** Usernames the user logged in with (failed attempts against them are included). */
  usernames: string[];
  logins: LoginRecord[];
  loginSummary: { total: number; successful: number; failed: number };
  /** Security events about the user. */
  securityEvents: unknown[];
  /** Changes the user performed, approved or rolled back. */
  changes: unknown[];
}

/** What an erasure did. Stored in `compliance_receipt`; the user id only as its SHA-256. */
export interface ErasureReceipt {
  id: string;
  /** SHA-256 (hex) of the user id: proves which user was erased without keeping the id. */
  subject: string;
  requestedBy: string;
  reason: string;
  erasedAt: string;
  removed: { logins: number; securityEvents: number; alerts: number };
  /** Change records and change history rows whose person values now carry the pseudonym. */
  pseudonymised: { changes: number; changeHistory: number };
  /** The name now standing in for the user on change records (stable per user); null when there were none. */
  pseudonym: string | null;
  /** True when nothing was left to erase (e.g. a repeated request). */
  nothingLeft: boolean;
}

/** Input to `privacy.erase()`. */
export interface EraseOptions {
  /** Who asked (the data-protection officer, the user themself …). Required. */
  requestedBy: string;
  /** Why (ticket, legal basis). Required. */
  reason: string;
}

/** Something another feature stores about the user (security events, change records). */
export interface PrivacyContributor {
  /** Rows for the export. */
  export(userId: string, usernames: string[]): Promise<{ securityEvents?: unknown[]; changes?: unknown[] }>;
  /** Removes or pseudonymises; returns counts. */
  erase(
    userId: string,
    usernames: string[],
    pseudonym: string,
  ): Promise<{ securityEvents?: number; changes?: number; changeHistory?: number }>;
}

/** `tg.privacy` */
export interface PrivacyService {
  /** Everything stored about `userId`; an unknown user yields empty lists. */
  export(userId: string | number): Promise<PrivacyExport>;
  /** Erases the user's personal data and returns the receipt. Idempotent. */
  erase(userId: string | number, options: EraseOptions): Promise<ErasureReceipt>;
  /** Erasure receipts, newest first; with `userId`, only that user's. */
  receipts(options?: {
    userId?: string | number | undefined;
    limit?: number | undefined;
  }): Promise<ErasureReceipt[]>;
}

export interface PrivacyServiceDeps {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  /** Waits for queued login writes, so an erasure cannot miss a row still in a batch. */
  flushWrites?: (() => Promise<void>) | undefined;
  contributors?: PrivacyContributor[] | undefined;
  /** Rows per DELETE. @default 5000 */
  batchSize?: number | undefined;
  /**
   * The secret keying the pseudonym (`erased-user-` + HMAC of the user id): the same user always gets
   * the same pseudonym, and it cannot be reversed by hashing candidate ids. Without it, a random one.
   */
  pseudonymKey?: (() => Promise<string>) | undefined;
}

/** `erased-user-<12 hex>`: HMAC-SHA256 of the user id under the installation's pseudonym key. */
export function pseudonymFor(userId: string, key: string): string {
  return `erased-user-${createHmac('sha256', key).update(userId, 'utf8').digest('hex').slice(0, 12)}`;
}

export function subjectHash(userId: string): string {
  return createHash('sha256').update(userId, 'utf8').digest('hex');
}

export function createPrivacyService(deps: PrivacyServiceDeps): PrivacyService {
  const { db, clock, logger } = deps;
  const batchSize = deps.batchSize ?? 5000;
  const contributors = deps.contributors ?? [];

  async function usernamesOf(userId: string): Promise<string[]> {
    const rows = await db
      .selectFrom('login_history')
      .select('username')
      .distinct()
      .where('user_id', '=', userId)
      .execute();
    return rows.map((r) => r.username).sort();
  }

  // The user's rows: those carrying the id, and attempts against their usernames that carried none
  // (a failed login often has no user id, but the username is still the person's).
  function mine(userId: string, usernames: string[]): RawBuilder<boolean> {
    return usernames.length === 0
      ? sql<boolean>`user_id = ${userId}`
      : sql<boolean>`(user_id = ${userId} OR (user_id IS NULL AND username = ANY(${usernames}::text[])))`;
  }

  return {
    async export(rawUserId) {
      const userId = normalizeUserId(rawUserId);
      await deps.flushWrites?.();
      const usernames = await usernamesOf(userId);
      const rows = await sql<Parameters<typeof toLoginRecord>[0]>`
        SELECT * FROM login_history WHERE ${mine(userId, usernames)} ORDER BY login_at, id`.execute(db);
      const logins = rows.rows.map(toLoginRecord);
      const out: PrivacyExport = {
        userId,
        generatedAt: clock.now().toISOString(),
        usernames,
        logins,
        loginSummary: {
          total: logins.length,
          successful: logins.filter((l) => l.success).length,
          failed: logins.filter((l) => !l.success).length,
        },
        securityEvents: [],
        changes: [],
      };
      for (const c of contributors) {
        const part = await c.export(userId, usernames);
        if (part.securityEvents) out.securityEvents.push(...part.securityEvents);
        if (part.changes) out.changes.push(...part.changes);
      }
      return out;
    },

    async erase(rawUserId, options) {
      const userId = normalizeUserId(rawUserId);
      if (!isPlainObject(options)) throw invalid('options', 'erase() takes { requestedBy, reason }');
      if (typeof options.requestedBy !== 'string' || options.requestedBy.trim() === '') {
        throw invalid('requestedBy', 'must name who asked for the erasure');
      }
      if (typeof options.reason !== 'string' || options.reason.trim() === '') {
        throw invalid('reason', 'must say why (ticket or legal basis)');
      }
      await deps.flushWrites?.();
      const usernames = await usernamesOf(userId);
      const where = mine(userId, usernames);
      let logins = 0;
      // A login's own security event is stored in its row (migration 0009): it goes with the login and
      // counts among the security events removed.
      let loginEvents = 0;
      // Bounded batches: a user with a long history must not hold a long lock on login_history.
      for (;;) {
        const r = await sql<{ n: number; events: number }>`
          WITH removed AS (
            DELETE FROM login_history WHERE (id, login_at) IN (
              SELECT id, login_at FROM login_history WHERE ${where} LIMIT ${batchSize})
            RETURNING event_severity)
          SELECT count(*)::int4 AS n, count(event_severity)::int4 AS events FROM removed`.execute(db);
        const n = Number(r.rows[0]?.n ?? 0);
        logins += n;
        loginEvents += Number(r.rows[0]?.events ?? 0);
        if (n < batchSize) break;
      }
      // Alerts name the person too (a burst key is the username, a new-country key starts with the id;
      // change alerts are keyed by change id but name the performer in their details).
      const alertKeys = sql<boolean>`(alert_key = ANY(${usernames}::text[]) OR alert_key LIKE ${`${userId.replace(/[\\%_]/g, '\\$&')}:%`})`;
      const alerts = await sql`DELETE FROM alert WHERE ${alertKeys}
        OR details->'performedBy'->>'id' = ANY(${[userId, ...usernames]}::text[])`.execute(db);
      await sql`DELETE FROM alert_throttle WHERE ${alertKeys}`.execute(db);
      const pseudonym = deps.pseudonymKey
        ? pseudonymFor(userId, await deps.pseudonymKey())
        : `erased-user-${randomBytes(6).toString('hex')}`;
      let securityEvents = loginEvents;
      let changes = 0;
      let changeHistory = 0;
      for (const c of contributors) {
        const r = await c.erase(userId, usernames, pseudonym);
        securityEvents += r.securityEvents ?? 0;
        changes += r.changes ?? 0;
        changeHistory += r.changeHistory ?? 0;
      }
      const removed = { logins, securityEvents, alerts: Number(alerts.numAffectedRows ?? 0) };
      const receipt: ErasureReceipt = {
        id: newId(),
        subject: subjectHash(userId),
        requestedBy: cleanText(options.requestedBy.trim(), 256),
        reason: cleanText(options.reason.trim(), 1024),
        erasedAt: clock.now().toISOString(),
        removed,
        pseudonymised: { changes, changeHistory },
        pseudonym: changes + changeHistory > 0 ? pseudonym : null,
        nothingLeft: logins + securityEvents + removed.alerts + changes + changeHistory === 0,
      };
      await db
        .insertInto('compliance_receipt')
        .values({
          id: receipt.id,
          kind: 'erasure',
          subject: receipt.subject,
          requested_by: receipt.requestedBy,
          reason: receipt.reason,
          created_at: receipt.erasedAt,
          body: JSON.stringify(receipt),
        })
        .execute();
      logger.info({ erasure: { id: receipt.id, removed, changes, changeHistory } }, 'privacy: erasure done');
      return receipt;
    },

    async receipts(options = {}) {
      const limit = options.limit ?? 50;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
        throw invalid('limit', 'must be a whole number from 1 to 1000');
      let q = db.selectFrom('compliance_receipt').select('body').where('kind', '=', 'erasure');
      if (options.userId !== undefined)
        q = q.where('subject', '=', subjectHash(normalizeUserId(options.userId)));
      const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
      return rows.map((r) => r.body as unknown as ErasureReceipt);
    },
  };
}
