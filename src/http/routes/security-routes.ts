/**
 * Security events over HTTP: ingestion (typed events as `tg.security.log` takes them), the event
 * query, active detection signals and the admin lockout reset.
 * @module
 */
import { forwardedClientReader } from '../forwarded-client.ts';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalid, isTrailguardError } from '../../domain/errors.ts';
import {
  DETECTION_PATTERNS,
  EVENT_LIMITS,
  SECURITY_CATEGORIES,
  SECURITY_EVENT_TYPES,
  SEVERITIES,
} from '../../domain/security-event.ts';
import type { SecurityEventQuery, SecurityEventType, Severity } from '../../domain/security-event.ts';
import { StringEnum, cleanJson, normalizeIp, parseEventTime, truncate } from '../../domain/validation.ts';
import type { Static } from '../../domain/validation.ts';
import type { Trailguard } from '../../trailguard.ts';
import { principalId } from '../auth.ts';
import type { ServerMetrics } from '../metrics.ts';
import { DateTime, MAX_BATCH, Nullable, Type, errorResponses } from '../schemas.ts';
import { activeSignals } from '../signals.ts';
import type { AdminSignInGuard } from '../admin-sign-in-guard.ts';
import { PartialBatchSchema, writeBatch, writeItem } from '../batch.ts';

const When = Type.Union([Type.String({ maxLength: 64 }), Type.Integer()], {
  description: 'ISO-8601 date-time or epoch milliseconds.',
});

/** One event to ingest: the options of `tg.security.log(type, options)` as JSON. */
export const IngestSecurityEvent = Type.Object(
  {
    type: StringEnum(SECURITY_EVENT_TYPES),
    username: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1024,
        description: 'What the user typed; required for login_failed; stored cut to 256.',
      }),
    ),
    userId: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 256 }), Type.Integer()])),
    ip: Type.Optional(
      Type.String({ maxLength: 64, description: "The end user's IP address (required unless forwarded)." }),
    ),
    userAgent: Type.Optional(Type.String({ maxLength: 4096 })),
    reason: Type.Optional(Type.String({ maxLength: 2048, description: 'Stored cut to 512.' })),
    occurredAt: Type.Optional(When),
    severity: Type.Optional(StringEnum(SEVERITIES, { description: 'Overrides the computed severity.' })),
    context: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description: 'Any JSON object (≤ 16 KiB); secrets in it (by key name or by shape) are redacted.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type IngestSecurityEvent = Static<typeof IngestSecurityEvent>;

export const IngestSecurityEventsBody = Type.Union(
  [IngestSecurityEvent, Type.Array(IngestSecurityEvent, { minItems: 1, maxItems: MAX_BATCH })],
  { description: `One event, or an array of up to ${MAX_BATCH}.` },
);

export const SecurityEventSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  type: StringEnum(SECURITY_EVENT_TYPES),
  category: StringEnum(SECURITY_CATEGORIES),
  severity: StringEnum(SEVERITIES),
  occurredAt: DateTime,
  username: Nullable(Type.String()),
  userId: Nullable(Type.String()),
  ipAddress: Nullable(Type.String()),
  userAgent: Nullable(Type.String()),
  reason: Nullable(Type.String()),
  context: Type.Record(Type.String(), Type.Unknown()),
});

export const SecurityEventsQuerySchema = Type.Object(
  {
    type: Type.Optional(StringEnum(SECURITY_EVENT_TYPES)),
    category: Type.Optional(StringEnum(SECURITY_CATEGORIES)),
    severity: Type.Optional(StringEnum(SEVERITIES)),
    ip: Type.Optional(Type.String({ maxLength: 64, description: 'An address or CIDR block.' })),
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    userId: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    from: Type.Optional(Type.String({ maxLength: 64 })),
    to: Type.Optional(Type.String({ maxLength: 64 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);

export const ActiveSignalSchema = Type.Object({
  pattern: StringEnum(DETECTION_PATTERNS),
  key: Type.String({ description: 'The IP (brute_force, account_enumeration) or the account.' }),
  count: Type.Number(),
  threshold: Type.Number(),
  windowSeconds: Type.Number(),
  firstSeenAt: DateTime,
  raisedAt: DateTime,
  expiresAt: DateTime,
  eventId: Type.String({ format: 'uuid' }),
});

const ResetBody = Type.Object(
  {
    ip: Type.Optional(Type.String({ maxLength: 64 })),
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
  },
  { additionalProperties: false, minProperties: 1, description: 'An IP, a username or both.' },
);

export interface SecurityRouteOptions {
  tg: Trailguard;
  metrics: ServerMetrics;
  batchBodyLimit: number;
  /** The admin sign-in's own counters, reset together with the application's. */
  adminGuard?: AdminSignInGuard | undefined;
}

/** What `tg.security.log` would reject, checked for every item before any is written. */
function precheck(item: IngestSecurityEvent, prefix: string, forwardedIp: boolean, now: Date): void {
  if (item.username !== undefined && item.username.trim() === '')
    throw invalid(`${prefix}username`, 'must not be empty');
  if (item.type === 'login_failed' && item.username === undefined)
    throw invalid(`${prefix}username`, 'is required for login_failed');
  if (typeof item.userId === 'number' && !Number.isSafeInteger(item.userId))
    throw invalid(`${prefix}userId`, 'must be a string or a whole number');
  if (typeof item.userId === 'string' && item.userId.trim() === '')
    throw invalid(`${prefix}userId`, 'must not be empty');
  if (item.ip === undefined && !forwardedIp) throw invalid(`${prefix}ip`, 'is required');
  if (item.ip !== undefined && normalizeIp(item.ip) === null)
    throw invalid(`${prefix}ip`, `'${truncate(item.ip, 64)}' is not an IP address`);
  if (item.occurredAt !== undefined) parseEventTime(item.occurredAt, `${prefix}occurredAt`, now);
  if (item.context !== undefined) {
    const clean = cleanJson(item.context, `${prefix}context`);
    if (Buffer.byteLength(JSON.stringify(clean)) > EVENT_LIMITS.contextBytes)
      throw invalid(`${prefix}context`, `must be at most ${EVENT_LIMITS.contextBytes} bytes as JSON`);
  }
}

export function securityRoutes(app: FastifyInstance, opts: SecurityRouteOptions): void {
  const { tg, metrics } = opts;

  // The end user's address and user agent come in the body; see forwarded-client.ts.
  const fromTrustedProxy = forwardedClientReader(tg.config.trustProxy);

  /** Stores one event; under an Idempotency-Key, as item `index` of the key, recorded with its row. */
  function log(
    request: FastifyRequest,
    item: IngestSecurityEvent,
    forwarded: { ip?: string; userAgent?: string },
    index: number,
  ) {
    const { type, occurredAt, severity, ...rest } = item;
    const idem = request.idempotency;
    return tg.security.log(
      type as SecurityEventType,
      {
        ...rest,
        ...(item.ip === undefined && forwarded.ip ? { ip: forwarded.ip } : {}),
        ...(item.userAgent === undefined && forwarded.userAgent ? { userAgent: forwarded.userAgent } : {}),
        ...(occurredAt !== undefined ? { occurredAt } : {}),
        ...(severity !== undefined ? { severity: severity as Severity } : {}),
      },
      { idempotency: idem ? { principal: idem.principal, key: idem.key, item: index } : undefined },
    );
  }

  app.post(
    '/api/v1/security-events',
    {
      bodyLimit: opts.batchBodyLimit,
      config: { scope: 'ingest', idempotent: 'items' },
      schema: {
        operationId: 'recordSecurityEvents',
        summary: 'Record one security event, or a batch of up to 1,000',
        description:
          'Typed events as `tg.security.log(type, options)` takes them. `login_failed` runs detection ' +
          '(and may raise `suspicious_activity`). The whole batch is validated before anything is written; ' +
          'if a database failure then stores only part of it, the answer is 207 saying which items were stored.',
        tags: ['security'],
        body: IngestSecurityEventsBody,
        response: {
          201: Type.Union([
            SecurityEventSchema,
            Type.Object({ count: Type.Integer(), ids: Type.Array(Type.String({ format: 'uuid' })) }),
          ]),
          207: PartialBatchSchema,
          ...errorResponses(400, 401, 403, 413, 415, 422, 429),
        },
      },
    },
    async (request, reply) => {
      const started = performance.now();
      const body = request.body as IngestSecurityEvent | IngestSecurityEvent[];
      const items = Array.isArray(body) ? body : [body];
      const needsForwarding = items.some((i) => i.ip === undefined || i.userAgent === undefined);
      const forwarded = needsForwarding ? fromTrustedProxy(request) : {};
      const now = tg.config.clock.now();
      items.forEach((item, i) =>
        precheck(item, Array.isArray(body) ? `${i}.` : '', forwarded.ip !== undefined, now),
      );
      if (Array.isArray(body)) {
        const sent = await writeBatch(
          reply,
          body,
          (item, index) => log(request, item, forwarded, index),
          request.idempotency,
        );
        metrics.ingestLatency.observe(
          { kind: 'security_events_batch' },
          (performance.now() - started) / 1000,
        );
        return sent;
      }
      const event = await writeItem(
        request.idempotency,
        () => log(request, body, forwarded, 0),
        (id) => tg.security.get(id),
      );
      metrics.ingestLatency.observe({ kind: 'security_event' }, (performance.now() - started) / 1000);
      return reply.code(201).send(event);
    },
  );

  app.get(
    '/api/v1/security-events',
    {
      config: { scope: 'read' },
      schema: {
        operationId: 'listSecurityEvents',
        summary: 'List security events, newest first, with filters and cursor pagination',
        tags: ['security'],
        querystring: SecurityEventsQuerySchema,
        response: {
          200: Type.Object({ items: Type.Array(SecurityEventSchema), nextCursor: Nullable(Type.String()) }),
          ...errorResponses(400, 401, 403, 429),
        },
      },
    },
    async (request) => tg.security.events(request.query as SecurityEventQuery),
  );

  app.get(
    '/api/v1/signals',
    {
      config: { scope: 'read' },
      schema: {
        operationId: 'listActiveSignals',
        summary: 'Active detection signals: raised within their window (impossible travel: 24 h)',
        description:
          'One per pattern and key, newest first, from the stored `suspicious_activity` events. ' +
          '`expiresAt` is when the signal lapses unless detection raises it again.',
        tags: ['security'],
        querystring: Type.Object(
          { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ generatedAt: DateTime, items: Type.Array(ActiveSignalSchema) }),
          ...errorResponses(400, 401, 403, 429),
        },
      },
    },
    async (request) => {
      const now = tg.config.clock.now();
      const { limit } = request.query as { limit?: number };
      return { generatedAt: now, items: await activeSignals(tg, now, limit ?? 100) };
    },
  );

  app.post(
    '/api/v1/security/reset',
    {
      config: { scope: 'admin' },
      schema: {
        operationId: 'resetDetectionCounters',
        summary:
          "Reset detection counters for an IP and/or a username, the application's and the admin sign-in's (lifts a lockout; logged as 'account_unlocked')",
        tags: ['security'],
        body: ResetBody,
        response: {
          200: Type.Object({ ip: Nullable(Type.String()), username: Nullable(Type.String()) }),
          ...errorResponses(400, 401, 403, 415, 429, 503),
        },
      },
    },
    async (request) => {
      const body = request.body as { ip?: string; username?: string };
      let ip: string | undefined;
      if (body.ip !== undefined) {
        ip = normalizeIp(body.ip) ?? undefined;
        if (ip === undefined) throw invalid('ip', `'${truncate(body.ip, 64)}' is not an IP address`);
      }
      if (body.username !== undefined && body.username.trim() === '')
        throw invalid('username', 'must not be empty');
      try {
        // The application's counters first: when Redis cannot reset them, nothing is reset and the
        // caller is told to retry (503 DETECTION_UNAVAILABLE with Retry-After), never a 200 for a reset
        // that only this process's fallback saw.
        await tg.security.resetCounters({
          ip,
          username: body.username,
          by: request.principal ? principalId(request.principal) : undefined,
        });
        await opts.adminGuard?.reset({ ip, username: body.username });
      } catch (err) {
        const retry = (err as { retryAfterSeconds?: unknown }).retryAfterSeconds;
        if (isTrailguardError(err) && err.code === 'DETECTION_UNAVAILABLE' && typeof retry === 'number')
          Object.assign(err, { headers: { 'retry-after': String(retry) } });
        throw err;
      }
      return { ip: ip ?? null, username: body.username ?? null };
    },
  );
}
