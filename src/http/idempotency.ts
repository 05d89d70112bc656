/**
 * `Idempotency-Key`: a retried request with the same key and the same body returns the first result
 * instead of running again. The key is scoped to the caller; a reused key with a different body is a
 * 422. A request holds its key under a short lease that it renews while it runs: a retry while the
 * holder is alive is a 409, a retry after the holder died (lease run out) takes the key over and runs.
 * Ingestion routes record each stored item in the item's own statement (see `storedItems`), so a
 * takeover answers for what was committed and writes only the rest.
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Clock } from '../domain/clock.ts';
import { TrailguardError, invalid } from '../domain/errors.ts';
import type { Database } from '../store/schema.ts';
import { createIdempotencyStore } from '../store/idempotency-store.ts';
import { sha256 } from '../auth/secrets.ts';
import { principalId } from './auth.ts';
import { logFailure, toTrailguardError } from './errors.ts';

/** The key a request holds. */
export interface HeldIdempotencyKey {
  principal: string;
  key: string;
  replayed: boolean;
  /** True when an earlier attempt with this key died and this request took the key over. */
  takenOver: boolean;
  /** The items of this key already stored (item index → record id), read from the database. */
  storedItems(): Promise<Map<number, string>>;
}

declare module 'fastify' {
  interface FastifyRequest {
    idempotency: HeldIdempotencyKey | null;
  }
}

/** How long a key is remembered. */
export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;

/**
 * How long a running request's hold on its key lasts without renewal. It is renewed every third of
 * that while the request runs, so only a holder that died (crash, kill, lost network) lets it lapse.
 */
export const IDEMPOTENCY_LEASE_MS = 30_000;

/** Renewal stops after this long: a request that has not answered by then is stuck. */
const MAX_HOLD_MS = 10 * 60_000;

export function registerIdempotency(
  app: FastifyInstance,
  db: Kysely<Database>,
  clock: Clock,
  leaseMs = IDEMPOTENCY_LEASE_MS,
): void {
  const store = createIdempotencyStore(db);
  const renewals = new WeakMap<FastifyRequest, NodeJS.Timeout>();
  const stopRenewing = (request: FastifyRequest) => {
    const timer = renewals.get(request);
    if (timer) clearInterval(timer);
    renewals.delete(request);
  };
  app.decorateRequest('idempotency', null);

  app.addHook('preHandler', async (request: FastifyRequest, reply: FastifyReply) => {
    if (!request.routeOptions.config.idempotent) return;
    const raw = request.headers['idempotency-key'];
    if (raw === undefined || request.principal === null) return;
    if (typeof raw !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(raw))
      throw invalid('Idempotency-Key', 'must be 1–255 visible ASCII characters');
    const principal = principalId(request.principal);
    const hash = sha256(`${request.method} ${request.url}\n${JSON.stringify(request.body ?? null)}`);
    const claim = await store.claim(principal, raw, hash, clock.now(), leaseMs);
    if (claim.kind === 'reused')
      throw new TrailguardError(
        'IDEMPOTENCY_KEY_REUSED',
        'this Idempotency-Key was used with a different request',
        { field: 'Idempotency-Key' },
      );
    if (claim.kind === 'in_progress') {
      const seconds = Math.ceil(claim.retryAfterMs / 1000);
      throw Object.assign(
        new TrailguardError(
          'IDEMPOTENCY_IN_PROGRESS',
          `the first request with this Idempotency-Key is still running; retry in ${seconds} s`,
          { field: 'Idempotency-Key' },
        ),
        { headers: { 'retry-after': String(seconds) } },
      );
    }
    if (claim.kind === 'replay') {
      request.idempotency = {
        principal,
        key: raw,
        replayed: true,
        takenOver: false,
        storedItems: () => store.storedItems(principal, raw),
      };
      return reply
        .code(claim.status)
        .header('idempotent-replayed', 'true')
        .type('application/json; charset=utf-8')
        .send(JSON.stringify(claim.response));
    }
    request.idempotency = {
      principal,
      key: raw,
      replayed: false,
      takenOver: claim.takenOver,
      storedItems: () => store.storedItems(principal, raw),
    };
    const started = Date.now();
    const timer = setInterval(() => {
      if (Date.now() - started > MAX_HOLD_MS) return stopRenewing(request);
      // A failed renewal (database down) only shortens the hold; the request itself will fail too.
      void store.renew(principal, raw, clock.now(), leaseMs).catch(() => undefined);
    }, leaseMs / 3);
    timer.unref();
    renewals.set(request, timer);
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const idem = request.idempotency;
    if (!idem || idem.replayed) return payload;
    stopRenewing(request);
    const status = reply.statusCode;
    try {
      // Server errors and throttling are not final: give the key up so that a retry with it runs at
      // once. Nor is a partly stored batch on a route that records its items: a retry stores only
      // the items still missing. Elsewhere a 207 is replayed, as a retry would store items twice.
      const itemised = request.routeOptions.config.idempotent === 'items';
      if (status >= 500 || status === 429 || (status === 207 && itemised))
        await store.release(idem.principal, idem.key);
      else
        await store.complete(
          idem.principal,
          idem.key,
          status,
          typeof payload === 'string' ? payload : JSON.stringify(null),
        );
    } catch (err) {
      // The answer stands; the key stays unfinished and its lease runs out, so a retry takes it over
      // (ingestion then answers from its stored items).
      logFailure(request, toTrailguardError(err), err, 'idempotency outcome not recorded');
    }
    return payload;
  });

  app.addHook('onRequestAbort', async (request) => stopRenewing(request));
}

/** Removes keys older than the TTL. */
export async function purgeIdempotencyKeys(db: Kysely<Database>, now: Date): Promise<void> {
  await createIdempotencyStore(db).purge(new Date(now.getTime() - IDEMPOTENCY_TTL_MS));
}
