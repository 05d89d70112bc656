/**
 * `Idempotency-Key`: a retried request with the same key and the same body returns the first result
 * instead of running again. The key is scoped to the caller; a reused key with a different body is a
 * 422, a key whose first request is still running is a 409.
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Clock } from '../domain/clock.ts';
import { TrailguardError, invalid } from '../domain/errors.ts';
import type { Database } from '../store/schema.ts';
import { sha256 } from '../auth/secrets.ts';
import { principalId } from './auth.ts';

declare module 'fastify' {
  interface FastifyRequest {
    idempotency: { principal: string; key: string; replayed: boolean } | null;
  }
}

/** How long a key is remembered. */
export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;

export function registerIdempotency(app: FastifyInstance, db: Kysely<Database>, clock: Clock): void {
  app.decorateRequest('idempotency', null);

  app.addHook('preHandler', async (request: FastifyRequest, reply: FastifyReply) => {
    if (!request.routeOptions.config.idempotent) return;
    const raw = request.headers['idempotency-key'];
    if (raw === undefined || request.principal === null) return;
    if (typeof raw !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(raw))
      throw invalid('Idempotency-Key', 'must be 1–255 visible ASCII characters');
    const principal = principalId(request.principal);
    const hash = sha256(`${request.method} ${request.url}\n${JSON.stringify(request.body ?? null)}`);
    const inserted = await db
      .insertInto('idempotency_keys')
      .values({ principal, key: raw, request_hash: hash, created_at: clock.now() })
      .onConflict((oc) => oc.columns(['principal', 'key']).doNothing())
      .returning('key')
      .executeTakeFirst();
    if (inserted) {
      request.idempotency = { principal, key: raw, replayed: false };
      return;
    }
    const row = await db
      .selectFrom('idempotency_keys')
      .select(['request_hash', 'status_code', 'response'])
      .where('principal', '=', principal)
      .where('key', '=', raw)
      .executeTakeFirst();
    if (!row)
      throw new TrailguardError('IDEMPOTENCY_IN_PROGRESS', 'retry shortly', { field: 'Idempotency-Key' });
    if (row.request_hash !== hash)
      throw new TrailguardError(
        'IDEMPOTENCY_KEY_REUSED',
        'this Idempotency-Key was used with a different request',
        {
          field: 'Idempotency-Key',
        },
      );
    if (row.status_code === null)
      throw new TrailguardError(
        'IDEMPOTENCY_IN_PROGRESS',
        'the first request with this Idempotency-Key is still running',
        {
          field: 'Idempotency-Key',
        },
      );
    request.idempotency = { principal, key: raw, replayed: true };
    return reply
      .code(row.status_code)
      .header('idempotent-replayed', 'true')
      .type('application/json; charset=utf-8')
      .send(JSON.stringify(row.response));
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const idem = request.idempotency;
    if (!idem || idem.replayed) return payload;
    const status = reply.statusCode;
    const where = db
      .updateTable('idempotency_keys')
      .where('principal', '=', idem.principal)
      .where('key', '=', idem.key);
    // Server errors and throttling are not results: forget the key so the retry runs for real.
    if (status >= 500 || status === 429) {
      await db
        .deleteFrom('idempotency_keys')
        .where('principal', '=', idem.principal)
        .where('key', '=', idem.key)
        .execute();
    } else {
      await where
        .set({ status_code: status, response: typeof payload === 'string' ? payload : JSON.stringify(null) })
        .execute();
    }
    return payload;
  });
}

/** Removes keys older than the TTL. */
export async function purgeIdempotencyKeys(db: Kysely<Database>, now: Date): Promise<void> {
  await db
    .deleteFrom('idempotency_keys')
    .where('created_at', '<', new Date(now.getTime() - IDEMPOTENCY_TTL_MS))
    .execute();
}
