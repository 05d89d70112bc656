/**
 * The security events part of a GDPR export or erasure: events carrying the user id, or one of the
 * user's usernames and no user id. Export reads the security_events view (every event); erasure removes
 * the rows of security_event_rows — the login events stored in login rows go with those rows.
 * @module
 */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { PrivacyContributor } from '../privacy/contract.ts';

export function securityEventsPrivacy(batchSize = 5000): PrivacyContributor {
  // An event carrying another user's id is that user's, whatever its username (a shared account, an
  // e-mail address given to someone else): it is neither exported nor erased with this user.
  const mine = (userId: string, usernames: string[]) =>
    usernames.length === 0
      ? sql<boolean>`user_id = ${userId}`
      : sql<boolean>`(user_id = ${userId} OR (user_id IS NULL AND username = ANY(${usernames}::text[])))`;
  return {
    async export(db: Kysely<Database>, userId, usernames) {
      const r = await sql<Record<string, unknown>>`
        SELECT id, event_type AS "type", category, severity, occurred_at AS "occurredAt", username,
          user_id AS "userId", host(ip_address) AS "ipAddress", user_agent AS "userAgent", reason, context
        FROM security_events WHERE ${mine(userId, usernames)} ORDER BY occurred_at, id`.execute(db);
      return { securityEvents: r.rows };
    },
    async erase(db: Kysely<Database>, userId, usernames, _pseudonymOf, seals) {
      await seals?.integrity.adjustRemoved(
        'security_event_rows',
        { where: mine(userId, usernames) },
        seals.note,
        db,
      );
      let removed = 0;
      for (;;) {
        const r = await sql`
          DELETE FROM security_event_rows WHERE (id, occurred_at) IN (
            SELECT id, occurred_at FROM security_event_rows WHERE ${mine(userId, usernames)} LIMIT ${batchSize})`.execute(
          db,
        );
        const n = Number(r.numAffectedRows ?? 0);
        removed += n;
        if (n < batchSize) return { securityEvents: removed };
      }
    },
  };
}
