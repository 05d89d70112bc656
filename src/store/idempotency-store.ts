/**
 * The SQL behind `Idempotency-Key`: claiming a key under a short lease, renewing and releasing it,
 * recording its outcome, and the per-item records that ingestion writes in the items' own statement.
 * @module
 */
import { sql } from 'kysely';
import type { Kysely, RawBuilder } from 'kysely';
import type { Database } from './schema.ts';

/** One item of a keyed request, recorded with the row it stored. */
export interface IdempotencyItem {
  principal: string;
  key: string;
  /** The item's index in the request (0 for a single object). */
  item: number;
  /** The id of the row the item stored. */
  recordId: string;
}

/** What claiming a key found. */
export type IdempotencyClaim =
  | { kind: 'claimed'; takenOver: boolean }
  | { kind: 'reused' }
  | { kind: 'in_progress'; retryAfterMs: number }
  | { kind: 'replay'; status: number; response: unknown };

export interface IdempotencyStore {
  /**
   * Claims `key` for a request with body hash `hash`: a new key, or an unfinished one whose lease ran
   * out (its holder died), is claimed with a fresh lease until `now + leaseMs`.
   */
  claim(principal: string, key: string, hash: string, now: Date, leaseMs: number): Promise<IdempotencyClaim>;
  /** Extends the lease of an unfinished key this request holds. */
  renew(principal: string, key: string, now: Date, leaseMs: number): Promise<void>;
  /** Records the final answer; later requests with the key replay it. */
  complete(principal: string, key: string, status: number, response: string): Promise<void>;
  /** Gives an unfinished key up at once (the answer was not final), so a retry need not wait out the lease. */
  release(principal: string, key: string): Promise<void>;
  /** The items of `key` already stored: item index → record id. */
  storedItems(principal: string, key: string): Promise<Map<number, string>>;
  /** Removes keys and items created before `before`. */
  purge(before: Date): Promise<void>;
}

/**
 * A data-modifying statement recording `items`, to run as a part of the WITH of the statement that
 * inserts their rows (all of it commits or none of it does). `created_at` is `now`.
 */
export function insertIdempotencyItems(items: readonly IdempotencyItem[], now: Date): RawBuilder<unknown> {
  return sql`INSERT INTO idempotency_items (principal, key, item, record_id, created_at)
    SELECT x.principal, x.key, x.item, x."recordId", ${now}::timestamptz
    FROM jsonb_to_recordset(${JSON.stringify(items)}::jsonb) AS x(principal text, key text, item integer, "recordId" uuid)`;
}

/**
 * Like insertIdempotencyItems, for one item whose row is chosen by the statement itself: the item is
 * recorded with the `id` of each row of relation `rows` (a WITH part of the same statement), and not
 * at all when it holds none.
 */
export function insertIdempotencyItemFrom(
  item: Omit<IdempotencyItem, 'recordId'>,
  rows: string,
  now: Date,
): RawBuilder<unknown> {
  return sql`INSERT INTO idempotency_items (principal, key, item, record_id, created_at)
    SELECT ${item.principal}, ${item.key}, ${item.item}::integer, r.id, ${now}::timestamptz
    FROM ${sql.table(rows)} AS r`;
}

export function createIdempotencyStore(db: Kysely<Database>): IdempotencyStore {
  const byKey = (principal: string, key: string) =>
    db.updateTable('idempotency_keys').where('principal', '=', principal).where('key', '=', key);
  return {
    async claim(principal, key, hash, now, leaseMs) {
      const until = new Date(now.getTime() + leaseMs);
      const inserted = await db
        .insertInto('idempotency_keys')
        .values({ principal, key, request_hash: hash, created_at: now, locked_until: until })
        .onConflict((oc) => oc.columns(['principal', 'key']).doNothing())
        .returning('key')
        .executeTakeFirst();
      if (inserted) return { kind: 'claimed', takenOver: false };
      // One UPDATE decides between concurrent retries: only one sees the lease run out.
      const taken = await byKey(principal, key)
        .set({ locked_until: until })
        .where('request_hash', '=', hash)
        .where('status_code', 'is', null)
        .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', now)]))
        .returning('key')
        .executeTakeFirst();
      if (taken) return { kind: 'claimed', takenOver: true };
      const row = await db
        .selectFrom('idempotency_keys')
        .select(['request_hash', 'status_code', 'response', 'locked_until'])
        .where('principal', '=', principal)
        .where('key', '=', key)
        .executeTakeFirst();
      // Purged between the two statements: another request holds it now, or soon will.
      if (!row) return { kind: 'in_progress', retryAfterMs: 1000 };
      if (row.request_hash !== hash) return { kind: 'reused' };
      if (row.status_code === null) {
        const left = row.locked_until ? new Date(row.locked_until).getTime() - now.getTime() : 0;
        return { kind: 'in_progress', retryAfterMs: Math.max(1000, left) };
      }
      return { kind: 'replay', status: row.status_code, response: row.response };
    },

    async renew(principal, key, now, leaseMs) {
      await byKey(principal, key)
        .set({ locked_until: new Date(now.getTime() + leaseMs) })
        .where('status_code', 'is', null)
        .execute();
    },

    async complete(principal, key, status, response) {
      await byKey(principal, key).set({ status_code: status, response, locked_until: null }).execute();
    },

    async release(principal, key) {
      await byKey(principal, key).set({ locked_until: null }).where('status_code', 'is', null).execute();
    },

    async storedItems(principal, key) {
      const rows = await db
        .selectFrom('idempotency_items')
        .select(['item', 'record_id'])
        .where('principal', '=', principal)
        .where('key', '=', key)
        .execute();
      return new Map(rows.map((r) => [r.item, r.record_id]));
    },

    async purge(before) {
      await db.deleteFrom('idempotency_keys').where('created_at', '<', before).execute();
      await db.deleteFrom('idempotency_items').where('created_at', '<', before).execute();
    },
  };
}
