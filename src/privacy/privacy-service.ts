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
import type { Logger } from '../domain/logger.ts';
import type { Clock } from '../domain/clock.ts';
import { invalid } from '../domain/errors.ts';
import { redactText } from '../domain/redact.ts';
import type { LoginRecord } from '../domain/login.ts';
import { cleanText, isPlainObject } from '../domain/validation.ts';
import { toLoginRecord } from '../logins/login-repository.ts';
import { normalizeUserId } from '../logins/login-service.ts';
import type { Database } from '../store/schema.ts';
import type { ErasureSeals, PrivacyContributor, PseudonymOf } from './contract.ts';

/** The user's data, as one JSON document. */
export interface PrivacyExport {
  userId: string;
  generatedAt: string;
  /**
   * Usernames taken as the user's: those they logged in with or that their security events carry,
   * and those the request named (failed attempts against them without a user id are included).
   */
  usernames: string[];
  logins: LoginRecord[];
  loginSummary: { total: number; successful: number; failed: number };
  /** Security events about the user. */
  securityEvents: unknown[];
  /** Changes the user performed, approved or rolled back. */
  changes: unknown[];
  /** Incidents the user opened, resolved or acted on. */
  incidents: unknown[];
  /** Alerts naming the user (the ones an erasure removes). */
  alerts: unknown[];
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
  /** Change records and change history rows whose person values now carry a pseudonym. */
  pseudonymised: { changes: number; changeHistory: number; incidents: number; incidentHistory: number };
  /**
   * The name now standing in for the user id on change records (stable per user); null when none does.
   * When a change record named the user by another identifier (a username, e.g. a CI pipeline's
   * committer e-mail), that identifier got its own pseudonym: see `pseudonyms`.
   */
  pseudonym: string | null;
  /** Every pseudonym this erasure wrote, one per identifier of the user found on change records. */
  pseudonyms: string[];
  /** True when nothing was left to erase (e.g. a repeated request). */
  nothingLeft: boolean;
}

/** Who the request is about, beyond the user id. */
export interface SubjectOptions {
  /**
   * Usernames (e-mail addresses …) of the user that Trailguard cannot link to the user id itself: it
   * finds those on rows that carry the id, which retention may have removed while failed attempts
   * against the username (which carry none) are kept longer. At most 100.
   */
  usernames?: string[] | undefined;
}

/** Input to `privacy.erase()`. */
export interface EraseOptions extends SubjectOptions {
  /** Who asked (the data-protection officer, the user themself …). Required. */
  requestedBy: string;
  /** Why (ticket, legal basis). Required. */
  reason: string;
}

export type { ErasureSeals, PrivacyContributor, PseudonymOf } from './contract.ts';

/** `tg.privacy` */
export interface PrivacyService {
  /** Everything stored about `userId`; an unknown user yields empty lists. */
  export(userId: string | number, options?: SubjectOptions): Promise<PrivacyExport>;
  /**
   * Erases the user's personal data and returns the receipt. Idempotent. All or nothing: it runs in
   * one transaction, the receipt included.
   */
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
  /** Tamper evidence: the erasure's removals and pseudonyms are filed as adjustments of the seals. */
  integrity?: ErasureSeals['integrity'] | undefined;
}

/** `erased-user-<12 hex>`: HMAC-SHA256 of the user id under the installation's pseudonym key. */
export function pseudonymFor(userId: string, key: string): string {
  return `erased-user-${createHmac('sha256', key).update(userId, 'utf8').digest('hex').slice(0, 12)}`;
}

export function subjectHash(userId: string): string {
  return createHash('sha256').update(userId, 'utf8').digest('hex');
}

/** The detection patterns whose alerts are keyed `<pattern>:<ip | username | user id>`. */
const SIGNAL_PATTERNS = [
  'brute_force',
  'distributed_attack',
  'account_enumeration',
  'new_country',
  'impossible_travel',
] as const;

function subjectUsernames(options: SubjectOptions | undefined): string[] {
  const given = options?.usernames;
  if (given === undefined) return [];
  if (!Array.isArray(given) || given.length > 100) {
    throw invalid('usernames', 'must be an array of at most 100 usernames');
  }
  return given.map((u, i) => {
    if (typeof u !== 'string' || u.trim() === '')
      throw invalid(`usernames[${i}]`, 'must be a non-empty string');
    return cleanText(u, 256);
  });
}

export function createPrivacyService(deps: PrivacyServiceDeps): PrivacyService {
  const { db, clock, logger } = deps;
  const batchSize = deps.batchSize ?? 5000;
  const contributors = deps.contributors ?? [];

  // The user's usernames: those of rows carrying the user id — logins, and security events (which
  // outlive the successful logins when retention keeps failed attempts or events longer) — and the
  // ones the request named.
  async function usernamesOf(q: Kysely<Database>, userId: string, named: string[]): Promise<string[]> {
    const rows = await sql<{ username: string }>`
      SELECT username FROM login_history WHERE user_id = ${userId}
      UNION SELECT username FROM security_event_rows WHERE user_id = ${userId} AND username IS NOT NULL`.execute(
      q,
    );
    return [...new Set([...rows.rows.map((r) => r.username), ...named])].sort();
  }

  // The user's rows: those carrying the id, and attempts against their usernames that carried none
  // (a failed login often has no user id, but the username is still the person's). A row carrying
  // another user's id is that user's, whatever its username.
  function mine(userId: string, usernames: string[]): RawBuilder<boolean> {
    return usernames.length === 0
      ? sql<boolean>`user_id = ${userId}`
      : sql<boolean>`(user_id = ${userId} OR (user_id IS NULL AND username = ANY(${usernames}::text[])))`;
  }

  // Alerts naming the person: a burst alert is keyed by the username, a new-country alert by
  // `<user id>:<country>`, a detection alert by `<pattern>:<key>` (the key may be the username or the
  // user id, else an IP, and then the details name the username); change alerts name the performer.
  function alertsOf(userId: string, usernames: string[]): RawBuilder<boolean> {
    const ids = [userId, ...usernames];
    const signalKeys = SIGNAL_PATTERNS.flatMap((p) => ids.map((id) => `${p}:${id}`));
    return sql<boolean>`(alert_key = ANY(${[...usernames, ...signalKeys]}::text[])
      OR alert_key LIKE ${`${userId.replace(/[\\%_]/g, '\\$&')}:%`}
      OR details->>'username' = ANY(${usernames}::text[]) OR details->>'userId' = ${userId}
      OR details->'performedBy'->>'id' = ANY(${ids}::text[]))`;
  }

  return {
    async export(rawUserId, options) {
      const userId = normalizeUserId(rawUserId);
      const named = subjectUsernames(options);
      await deps.flushWrites?.();
      const usernames = await usernamesOf(db, userId, named);
      const rows = await sql<Parameters<typeof toLoginRecord>[0]>`
        SELECT * FROM login_history WHERE ${mine(userId, usernames)} ORDER BY login_at, id`.execute(db);
      const logins = rows.rows.map(toLoginRecord);
      const alerts = await sql<Record<string, unknown>>`
        SELECT id, rule, alert_key AS "key", severity, title, message, details, occurred_at AS "occurredAt",
          created_at AS "createdAt"
        FROM alert WHERE ${alertsOf(userId, usernames)} ORDER BY occurred_at, id`.execute(db);
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
        incidents: [],
        alerts: alerts.rows,
      };
      for (const c of contributors) {
        const part = await c.export(db, userId, usernames);
        if (part.securityEvents) out.securityEvents.push(...part.securityEvents);
        if (part.changes) out.changes.push(...part.changes);
        if (part.incidents) out.incidents.push(...part.incidents);
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
      const named = subjectUsernames(options);
      await deps.flushWrites?.();
      const key = deps.pseudonymKey ? await deps.pseudonymKey() : undefined;
      // One pseudonym per identifier: a change record that named the user by two identifiers (say as
      // performer by e-mail and as approver by id) keeps two distinct names, as it recorded them.
      const random = new Map<string, string>();
      const pseudonymOf: PseudonymOf = (identifier) => {
        if (key !== undefined) return pseudonymFor(identifier, key);
        let p = random.get(identifier);
        if (p === undefined) random.set(identifier, (p = `erased-user-${randomBytes(6).toString('hex')}`));
        return p;
      };
      // All or nothing: a failure part-way (a constraint, a lost connection) leaves every row as it was
      // and writes no receipt, so a retry starts from the same state.
      const receiptId = newId();
      const seals: ErasureSeals | undefined = deps.integrity && {
        integrity: deps.integrity,
        note: { reason: 'erasure', reference: receiptId },
      };
      const receipt = await db.transaction().execute(async (trx) => {
        const usernames = await usernamesOf(trx, userId, named);
        const where = mine(userId, usernames);
        await seals?.integrity.adjustRemoved('login_history', { where }, seals.note, trx);
        let logins = 0;
        // A login's own security event is stored in its row (migration 0009): it goes with the login and
        // counts among the security events removed.
        let loginEvents = 0;
        // Bounded batches: each statement's work and memory stay small for a user with a long history.
        for (;;) {
          const r = await sql<{ n: number; events: number }>`
            WITH removed AS (
              DELETE FROM login_history WHERE (id, login_at) IN (
                SELECT id, login_at FROM login_history WHERE ${where} LIMIT ${batchSize})
              RETURNING event_severity)
            SELECT count(*)::int4 AS n, count(event_severity)::int4 AS events FROM removed`.execute(trx);
          const n = Number(r.rows[0]?.n ?? 0);
          logins += n;
          loginEvents += Number(r.rows[0]?.events ?? 0);
          if (n < batchSize) break;
        }
        // Deliveries still pending go with their alert (alert_outbox cascades).
        const alerts = await sql<{ rule: string; alert_key: string }>`
          DELETE FROM alert WHERE ${alertsOf(userId, usernames)} RETURNING rule, alert_key`.execute(trx);
        if (alerts.rows.length > 0) {
          await sql`DELETE FROM alert_throttle t USING unnest(
              ${alerts.rows.map((a) => a.rule)}::text[], ${alerts.rows.map((a) => a.alert_key)}::text[]) AS k(rule, alert_key)
            WHERE t.rule = k.rule AND t.alert_key = k.alert_key`.execute(trx);
        }
        let securityEvents = loginEvents;
        let changes = 0;
        let changeHistory = 0;
        let incidents = 0;
        let incidentHistory = 0;
        const pseudonyms = new Set<string>();
        for (const c of contributors) {
          const r = await c.erase(trx, userId, usernames, pseudonymOf, seals);
          securityEvents += r.securityEvents ?? 0;
          changes += r.changes ?? 0;
          changeHistory += r.changeHistory ?? 0;
          incidents += r.incidents ?? 0;
          incidentHistory += r.incidentHistory ?? 0;
          for (const p of r.pseudonyms ?? []) pseudonyms.add(p);
        }
        const removed = { logins, securityEvents, alerts: alerts.rows.length };
        const own = pseudonymOf(userId);
        const used = [...pseudonyms].sort();
        const out: ErasureReceipt = {
          id: receiptId,
          subject: subjectHash(userId),
          requestedBy: cleanText(options.requestedBy.trim(), 256),
          reason: redactText(cleanText(options.reason.trim(), 1024)),
          erasedAt: clock.now().toISOString(),
          removed,
          pseudonymised: { changes, changeHistory, incidents, incidentHistory },
          pseudonym: pseudonyms.has(own) ? own : (used[0] ?? null),
          pseudonyms: used,
          nothingLeft:
            logins +
              securityEvents +
              removed.alerts +
              changes +
              changeHistory +
              incidents +
              incidentHistory ===
            0,
        };
        await trx
          .insertInto('compliance_receipt')
          .values({
            id: out.id,
            kind: 'erasure',
            subject: out.subject,
            requested_by: out.requestedBy,
            reason: out.reason,
            created_at: out.erasedAt,
            body: JSON.stringify(out),
          })
          .execute();
        return out;
      });
      logger.info(
        { erasure: { id: receipt.id, removed: receipt.removed, pseudonymised: receipt.pseudonymised } },
        'privacy: erasure done',
      );
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
