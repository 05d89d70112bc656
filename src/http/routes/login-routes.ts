/**
 * Login history over HTTP: ingestion (one or a batch, logouts) and the read queries.
 * @module
 */
import { forwardedClientReader } from '../forwarded-client.ts';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalid } from '../../domain/errors.ts';
import type { LoginRecord, RecordLoginInput } from '../../domain/login.ts';
import { LIMITS } from '../../domain/login.ts';
import { cleanJson, normalizeIp, parseEventTime, truncate } from '../../domain/validation.ts';
import type { Trailguard } from '../../trailguard.ts';
import {
  CalendarQuerySchema,
  CalendarSchema,
  FailedLoginsQuerySchema,
  IdParams,
  IngestLoginsBody,
  IngestLogoutBody,
  ListLoginsQuerySchema,
  LoginPage,
  LoginRecordSchema,
  Nullable,
  Type,
  errorResponses,
} from '../schemas.ts';
import type { IngestLogin } from '../schemas.ts';
import type { ServerMetrics } from '../metrics.ts';
import { PartialBatchSchema, writeBatch, writeItem } from '../batch.ts';

export interface LoginRouteOptions {
  tg: Trailguard;
  metrics: ServerMetrics;
  /** Body limit for `POST /logins` (batches are larger than other bodies). */
  batchBodyLimit: number;
}

/**
 * Everything `record()` would reject, checked for every item before any is written, so a bad item in
 * a batch leaves nothing stored.
 */
function precheck(item: IngestLogin, prefix: string, now: Date): void {
  if (item.username.trim() === '') throw invalid(`${prefix}username`, 'must not be empty');
  if (typeof item.userId === 'number' && !Number.isSafeInteger(item.userId))
    throw invalid(`${prefix}userId`, 'must be a string or a whole number');
  if (typeof item.userId === 'string' && item.userId.trim() === '')
    throw invalid(`${prefix}userId`, 'must not be empty');
  if (item.ip !== undefined && normalizeIp(item.ip) === null)
    throw invalid(`${prefix}ip`, `'${truncate(item.ip, 64)}' is not an IP address`);
  if (item.occurredAt !== undefined) parseEventTime(item.occurredAt, `${prefix}occurredAt`, now);
  if (item.metadata !== undefined) {
    const clean = cleanJson(item.metadata, `${prefix}metadata`);
    if (Buffer.byteLength(JSON.stringify(clean)) > LIMITS.metadataBytes)
      throw invalid(`${prefix}metadata`, `must be at most ${LIMITS.metadataBytes} bytes as JSON`);
  }
}

/** Exactly the fields of LoginRecordSchema, for responses serialized without the schema. */
function publicRecord(r: LoginRecord): LoginRecord {
  return {
    id: r.id,
    userId: r.userId,
    username: r.username,
    loginType: r.loginType,
    success: r.success,
    failureReason: r.failureReason,
    ipAddress: r.ipAddress,
    userAgent: r.userAgent,
    browser: r.browser,
    browserVersion: r.browserVersion,
    os: r.os,
    deviceType: r.deviceType,
    country: r.country,
    city: r.city,
    loginAt: r.loginAt,
    logoutAt: r.logoutAt,
    sessionDurationSeconds: r.sessionDurationSeconds,
    metadata: r.metadata,
  };
}

export function loginRoutes(app: FastifyInstance, opts: LoginRouteOptions): void {
  const { tg, metrics } = opts;

  // The end user's address and user agent come in the body; see forwarded-client.ts.
  const fromTrustedProxy = forwardedClientReader(tg.config.trustProxy);

  function toInput(item: IngestLogin, forwarded: { ip?: string; userAgent?: string }): RecordLoginInput {
    const { occurredAt, ...rest } = item;
    return {
      ...rest,
      ...(item.ip === undefined && forwarded.ip ? { ip: forwarded.ip } : {}),
      ...(item.userAgent === undefined && forwarded.userAgent ? { userAgent: forwarded.userAgent } : {}),
      ...(occurredAt !== undefined ? { occurredAt } : {}),
    };
  }

  /** The forwarded client of the request, looked up once per request and only when an item needs it. */
  function forwardedFor(request: FastifyRequest, items: IngestLogin[]): { ip?: string; userAgent?: string } {
    for (const item of items)
      if (item.ip === undefined || item.userAgent === undefined) return fromTrustedProxy(request);
    return {};
  }

  /**
   * One login, under its Idempotency-Key as item 0: when an earlier attempt with the key stored it,
   * the stored record is the answer (see writeItem).
   */
  function recordOne(request: FastifyRequest, body: IngestLogin): Promise<LoginRecord> {
    const idem = request.idempotency;
    return writeItem(
      idem,
      () =>
        tg.logins.record(toInput(body, forwardedFor(request, [body])), {
          idempotency: idem ? { principal: idem.principal, key: idem.key, item: 0 } : undefined,
        }),
      (id) => tg.logins.get(id),
    );
  }

  app.post(
    '/api/v1/logins',
    {
      bodyLimit: opts.batchBodyLimit,
      config: { scope: 'ingest', idempotent: 'items' },
      schema: {
        operationId: 'recordLogins',
        summary: 'Record one login attempt, or a batch of up to 1,000',
        description:
          'Send one object or an array. The whole batch is validated before anything is written; if a ' +
          'database failure then stores only part of it, the answer is 207 saying which items were stored. ' +
          "`ip` and `userAgent` are the end user's; the server never reads them from this request's headers " +
          'unless the caller is a configured trusted proxy.',
        tags: ['logins'],
        body: IngestLoginsBody,
        response: {
          201: Type.Union([
            LoginRecordSchema,
            Type.Object({ count: Type.Integer(), ids: Type.Array(Type.String({ format: 'uuid' })) }),
          ]),
          207: PartialBatchSchema,
          ...errorResponses(400, 401, 403, 413, 415, 422, 429),
        },
      },
    },
    async (request, reply) => {
      const started = performance.now();
      const body = request.body as IngestLogin | IngestLogin[];
      if (Array.isArray(body)) {
        const now = tg.config.clock.now();
        for (let i = 0; i < body.length; i++) precheck(body[i] as IngestLogin, `${i}.`, now);
        const forwarded = forwardedFor(request, body);
        const idem = request.idempotency;
        const sent = await writeBatch(
          reply,
          body,
          (item, index) =>
            tg.logins.record(toInput(item, forwarded), {
              idempotency: idem ? { principal: idem.principal, key: idem.key, item: index } : undefined,
            }),
          idem,
        );
        metrics.ingestLatency.observe({ kind: 'logins_batch' }, (performance.now() - started) / 1000);
        return sent;
      }
      precheck(body, '', tg.config.clock.now());
      const record = await recordOne(request, body);
      metrics.ingestLatency.observe({ kind: 'login' }, (performance.now() - started) / 1000);
      return reply
        .code(201)
        .type('application/json; charset=utf-8')
        .send(JSON.stringify(publicRecord(record)));
    },
  );

  app.post(
    '/api/v1/logouts',
    {
      config: { scope: 'ingest', idempotent: 'items' },
      schema: {
        operationId: 'recordLogout',
        summary: "Close a user's session and record its duration",
        description: "Without `sessionKey`, the user's latest open successful login is closed.",
        tags: ['logins'],
        body: IngestLogoutBody,
        response: {
          200: Type.Object({ login: Nullable(LoginRecordSchema) }),
          ...errorResponses(400, 401, 403, 413, 415, 422, 429),
        },
      },
    },
    async (request) => {
      const started = performance.now();
      const body = request.body as {
        userId: string | number;
        sessionKey?: string;
        occurredAt?: string | number;
      };
      // Keyed, the session closed is recorded with the logout: a retry after a crash answers with it
      // instead of closing another session. A logout that closed none recorded nothing, and a retry
      // runs it again.
      const idem = request.idempotency;
      const login = await writeItem<LoginRecord | null>(
        idem,
        () =>
          tg.logins.recordLogout(body, {
            idempotency: idem ? { principal: idem.principal, key: idem.key, item: 0 } : undefined,
          }),
        (id) => tg.logins.get(id),
      );
      metrics.ingestLatency.observe({ kind: 'logout' }, (performance.now() - started) / 1000);
      return { login };
    },
  );

  app.get(
    '/api/v1/logins',
    {
      config: { scope: 'read' },
      schema: {
        operationId: 'listLogins',
        summary: 'List login history, newest first, with filters and cursor pagination',
        tags: ['logins'],
        querystring: ListLoginsQuerySchema,
        response: { 200: LoginPage, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request) => tg.logins.list(request.query as ListLoginsQuerySchema),
  );

  app.get(
    '/api/v1/logins/calendar',
    {
      config: { scope: 'read' },
      schema: {
        operationId: 'getLoginCalendar',
        summary:
          'Attempts per year, per month of `year`, or per day of `year`-`month` (UTC), for date drill-down',
        tags: ['logins'],
        querystring: CalendarQuerySchema,
        response: { 200: CalendarSchema, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request) => tg.logins.calendar(request.query as CalendarQuerySchema),
  );

  app.get(
    '/api/v1/logins/:id',
    {
      config: { scope: 'read' },
      schema: {
        operationId: 'getLogin',
        summary: 'One login record with every field and its metadata',
        tags: ['logins'],
        params: IdParams,
        response: { 200: LoginRecordSchema, ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request) => tg.logins.get((request.params as { id: string }).id),
  );

  app.get(
    '/api/v1/logins/failed',
    {
      config: { scope: 'read' },
      schema: {
        operationId: 'listFailedLogins',
        summary: 'Failed attempts in the last `hours` (default 24), newest first',
        tags: ['logins'],
        querystring: FailedLoginsQuerySchema,
        response: {
          200: Type.Object({ items: Type.Array(LoginRecordSchema) }),
          ...errorResponses(400, 401, 403, 429),
        },
      },
    },
    async (request) => {
      const q = request.query as FailedLoginsQuerySchema;
      const items: LoginRecord[] = await tg.logins.failed({ ...q, hours: q.hours ?? 24 });
      return { items };
    },
  );
}
