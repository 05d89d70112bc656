/**
 * `createServer(tg, options)`: the Fastify application behind `trailguard serve` — REST API, ingestion,
 * authentication, OpenAPI at /docs, Prometheus at /metrics, and the admin UI's static build at /.
 * @module
 */
import Fastify from 'fastify';
import type { FastifyInstance, FastifyServerOptions, RouteOptions } from 'fastify';
import cookie from '@fastify/cookie';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import fastifyStatic from '@fastify/static';
import { Redis } from 'ioredis';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Value } from 'typebox/value';
import { TrailguardError, invalid } from '../domain/errors.ts';
import { validator } from '../domain/validation.ts';
import type { TSchema } from '../domain/validation.ts';
import { compileTrust } from '../enrich/client-ip.ts';
import { createAuthService } from '../auth/auth-service.ts';
import type { AuthService } from '../auth/auth-service.ts';
import type { Trailguard } from '../trailguard.ts';
import { principalId, registerAuth } from './auth.ts';
import type { AuthFailureLimiter, RouteScope } from './auth.ts';
import { handleError } from './errors.ts';
import { ErrorSchema } from './schemas.ts';
import { purgeIdempotencyKeys, registerIdempotency } from './idempotency.ts';
import { createMetrics, observeSecurityEvents } from './metrics.ts';
import type { ServerMetrics } from './metrics.ts';
import { registerOperationalMetrics } from './operational-metrics.ts';
import { createMetricsListener } from './metrics-listener.ts';
import type { MetricsListener, MetricsListenerOptions } from './metrics-listener.ts';
import { createAdminSignInGuard } from './admin-sign-in-guard.ts';
import { adminRoutes } from './routes/admin-routes.ts';
import { changeRoutes } from './routes/change-routes.ts';
import { incidentRoutes } from './routes/incident-routes.ts';
import { privacyRoutes } from './routes/privacy-routes.ts';
import { integrityRoutes } from './routes/integrity-routes.ts';
import { dashboardRoutes } from './routes/dashboard-routes.ts';
import { loginRoutes } from './routes/login-routes.ts';
import { securityRoutes } from './routes/security-routes.ts';
import { sessionRoutes } from './routes/session-routes.ts';
import { systemRoutes } from './routes/system-routes.ts';
import { viewerRoutes } from './routes/viewer-routes.ts';

/** Rate limits, per minute. */
export interface RateLimitOptions {
  /** Requests per minute per API key, session or viewer token. @default 60000 */
  perKey?: number | undefined;
  /**
   * Requests per minute per client address to public routes, and, counted apart, requests per minute
   * per address that fail authentication on protected routes. @default 300
   */
  perIp?: number | undefined;
  /** Prefix of the Redis keys. @default 'trailguard:rl:' */
  redisPrefix?: string | undefined;
}

/** Options for `createServer()`. */
export interface ServerOptions {
  /** Credentials service. @default one over `tg.database` */
  auth?: AuthService | undefined;
  /** Fastify's logger (pino options), or false. @default false */
  logger?: FastifyServerOptions['logger'];
  /** Rate limits, or false to turn rate limiting off. Redis-backed when `redisUrl` is set. */
  rateLimit?: RateLimitOptions | false | undefined;
  /** Redis for shared rate-limit state and readiness. @default `tg.config.redisUrl` */
  redisUrl?: string | undefined;
  /** Largest request body, bytes. @default 1 MiB */
  bodyLimit?: number | undefined;
  /** Largest `POST /api/v1/logins` body (a batch of 1,000), bytes. @default 8 MiB */
  batchBodyLimit?: number | undefined;
  /** Directory of the admin UI's static build, or false. @default `dist/web` of the package, if present */
  webRoot?: string | false | undefined;
  /**
   * Admin sign-in lockout when detection is turned off (with detection on, the detection patterns
   * decide, on the sign-in's own counters): failed sign-ins per address, or addresses failing for
   * one account, within the window. @default 5 in 15 min
   */
  lockout?: { threshold?: number | undefined; windowMs?: number | undefined } | undefined;
  /**
   * How long a running request holds its Idempotency-Key without renewing it (it renews every third
   * of that): after a crash, a retry with the key waits at most this long before it takes over.
   * @default 30000
   */
  idempotencyLeaseMs?: number | undefined;
  /** Collect Node process metrics into /metrics. @default true */
  processMetrics?: boolean | undefined;
  /**
   * Also serve `GET /metrics` without credentials on a separate internal listener, started with the
   * server (`app.ready()`) and closed with it. The public /metrics keeps requiring a read key.
   * @default none
   * @example { port: 9464 } // 127.0.0.1:9464
   */
  metricsListener?: MetricsListenerOptions | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The server's metrics registry. */
    trailguardMetrics: ServerMetrics;
    /** The internal metrics listener, when `metricsListener` was given. */
    trailguardMetricsListener: MetricsListener | null;
    /** Every API route with its required scope (for tests and docs). */
    trailguardRoutes: { method: string; url: string; scope: RouteScope }[];
  }
}

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
  license: string;
};
const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../dist/web', import.meta.url));

const documented = new WeakSet<object>();

/** Who may call a route of each scope, for the OpenAPI description. */
const SCOPE_CALLERS: Record<RouteScope, string> = {
  public: 'public: no credentials needed',
  viewer: 'viewer: a viewer token (`Authorization: Bearer tgv_…`)',
  ingest: 'ingest: an ingest or admin API key, or an admin session',
  read: 'read: a read or admin API key, or an admin session',
  admin: 'admin: an admin API key or an admin session',
};

/**
 * Completes a route's OpenAPI operation from its declared scope: its security requirement (none for
 * public routes; the scope as the requirement's role otherwise), the scope in its description, and
 * the error statuses every route of its kind can answer besides its own (401/403 behind
 * credentials, 400/413/415 with a body, 400 with a query or path parameters, 429 when rate limited,
 * 500, and 503 when the database fails or the server is shutting down).
 */
function documentRoute(route: RouteOptions, scope: RouteScope, rateLimited: boolean): void {
  const schema = route.schema as Record<string, unknown> | undefined;
  // A GET route's HEAD twin comes through with the same schema object.
  if (!schema || schema['hide'] === true || documented.has(schema)) return;
  documented.add(schema);
  schema['security'] =
    scope === 'public'
      ? []
      : scope === 'viewer'
        ? [{ apiKey: [] }]
        : [{ apiKey: [scope] }, { session: [scope] }];
  const line = `**Scope:** ${SCOPE_CALLERS[scope]}.`;
  schema['description'] =
    typeof schema['description'] === 'string' ? `${schema['description']}\n\n${line}` : line;
  const statuses: number[] = [500, 503];
  if (scope !== 'public') statuses.push(401, 403);
  if (schema['body'] !== undefined) statuses.push(400, 413, 415);
  if (schema['querystring'] !== undefined || schema['params'] !== undefined) statuses.push(400);
  if (rateLimited) statuses.push(429);
  const response = (schema['response'] ?? {}) as Record<string, unknown>;
  for (const status of statuses) response[status] ??= ErrorSchema;
  schema['response'] = response;
}

/**
 * Removes empty schemas (`{}`) from `anyOf` lists in the document. The library's input schemas accept a
 * `Date` object beside an ISO string or epoch number; JSON cannot carry one, and an empty alternative
 * would tell generated clients that any value is accepted.
 */
function dropEmptyAlternatives<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => dropEmptyAlternatives(v)) as T;
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const isEmpty = (s: unknown) =>
      typeof s === 'object' && s !== null && !Array.isArray(s) && Object.keys(s).length === 0;
    out[key] =
      key === 'anyOf' && Array.isArray(v) && v.some((s) => !isEmpty(s))
        ? dropEmptyAlternatives(v.filter((s) => !isEmpty(s)))
        : dropEmptyAlternatives(v);
  }
  return out as T;
}

/** The dotted path of the first string or key in `value` that holds a NUL character, or null. */
function nulField(value: unknown, path: string, depth = 0): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path : null;
  if (typeof value !== 'object' || value === null || depth > 64) return null;
  for (const [key, v] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    if (key.includes('\u0000')) return at;
    const found = nulField(v, at, depth + 1);
    if (found !== null) return found;
  }
  return null;
}

/**
 * Requests to protected routes that fail authentication (no, wrong or expired credentials), counted
 * per client address (`request.ip`, through the trusted-proxy rules) in the rate limiter's store, up
 * to `perIp` a minute. The route limiter cannot do it: it runs after authentication has refused them.
 */
function authFailureLimiter(app: FastifyInstance, perIp: number): AuthFailureLimiter {
  const limit = app.createRateLimit({
    max: perIp,
    timeWindow: 60_000,
    keyGenerator: (request) => `authfail:${request.ip}`,
  });
  const refuse = (ttl: number) => {
    const seconds = Math.max(1, Math.ceil(ttl / 1000));
    return Object.assign(
      new TrailguardError(
        'RATE_LIMITED',
        `too many requests without valid credentials from this address; retry in ${seconds} s`,
      ),
      { headers: { 'retry-after': String(seconds), 'x-ratelimit-limit': String(perIp) } },
    );
  };
  return {
    async check(request) {
      const state = await limit(request, { increment: false });
      if (!state.isAllowed && state.remaining === 0) throw refuse(state.ttl);
    },
    async fail(request) {
      const state = await limit(request);
      if (!state.isAllowed && state.isExceeded) throw refuse(state.ttl);
    },
  };
}

/** Builds the server (not yet listening). `app.close()` stops it; the caller closes `tg`. */
export async function createServer(tg: Trailguard, options: ServerOptions = {}): Promise<FastifyInstance> {
  const auth = options.auth ?? createAuthService({ db: tg.database.db, clock: tg.config.clock });
  const metrics = createMetrics({
    defaultMetrics: options.processMetrics !== false,
    detectionDegraded: () => tg.security.detector?.degraded === true,
  });
  const redisUrl = options.redisUrl ?? tg.config.redisUrl;
  const redis = redisUrl
    ? new Redis(redisUrl, {
        // Never queue or stall a request behind a Redis outage.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        connectTimeout: 2000,
        commandTimeout: 500,
        lazyConnect: false,
      })
    : null;
  redis?.on('error', () => undefined);

  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    trustProxy: compileTrust(tg.config.trustProxy),
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: false } },
  });
  app.decorate('trailguardMetrics', metrics);
  const metricsListener = options.metricsListener
    ? createMetricsListener(metrics.registry, options.metricsListener)
    : null;
  app.decorate('trailguardMetricsListener', metricsListener);
  if (metricsListener) {
    app.addHook('onReady', async () => {
      await metricsListener.listen();
    });
  }
  app.decorate('trailguardRoutes', [] as { method: string; url: string; scope: RouteScope }[]);

  // One schema library end to end: TypeBox checks bodies, queries and params, and its failures are
  // TrailguardErrors naming the field. Query strings and params arrive as text and are converted first.
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const check = validator(schema as TSchema);
    const convert = httpPart === 'querystring' || httpPart === 'params';
    return (data: unknown) => {
      try {
        // Query objects have a null prototype; the core expects plain objects.
        const input = convert ? { ...(Value.Convert(schema as TSchema, data ?? {}) as object) } : data;
        return { value: check(input, '', httpPart === 'body' ? 'body' : 'input') };
      } catch (err) {
        return { error: err as Error };
      }
    };
  });
  // PostgreSQL text cannot hold NUL. Data recorded through the ingest routes has it removed by the
  // library (cleanText, cleanJson), as for any caller; everywhere else (query filters, path
  // parameters, credentials, key and user names) a NUL is refused here, naming the field, instead of
  // reaching the database as a 500.
  app.addHook('preValidation', async (request) => {
    const field =
      nulField(request.query, '') ??
      nulField(request.params, '') ??
      (request.routeOptions.config.scope === 'ingest' ? null : nulField(request.body, ''));
    if (field !== null) throw invalid(field || 'body', 'must not contain NUL (\\u0000) characters');
  });
  app.setErrorHandler(handleError);
  // JSON only: a text/plain body is a 415, not a string handed to the routes.
  app.removeContentTypeParser('text/plain');
  app.setNotFoundHandler((request, reply) =>
    handleError(
      new TrailguardError('ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`),
      request,
      reply,
    ),
  );

  app.addHook('onRoute', (route) => {
    const scope = (route.config as { scope?: RouteScope } | undefined)?.scope;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (scope !== undefined)
      for (const method of methods)
        if (method !== 'HEAD') app.trailguardRoutes.push({ method, url: route.url, scope });
    if (scope !== undefined)
      documentRoute(route, scope, options.rateLimit !== false && route.config?.rateLimit !== false);
  });

  await app.register(cookie);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Trailguard API',
        version: pkg.version,
        description:
          'Login history, security events and the production change log. Errors are `{ error: { code, message, field? } }`.',
        license: { name: pkg.license, identifier: pkg.license },
      },
      // Relative: the API is wherever this document is served from (behind any proxy or prefix-free host).
      servers: [{ url: '/', description: 'The server that serves this document' }],
      components: {
        securitySchemes: {
          apiKey: {
            type: 'http',
            scheme: 'bearer',
            description: 'An API key (`tg_<scope>_…`) or a viewer token (`tgv_…`).',
          },
          session: { type: 'apiKey', in: 'cookie', name: 'tg_session' },
        },
      },
      // No global requirement: each operation states its own (none for public routes), see documentRoute.
    },
    transformObject: (document) =>
      dropEmptyAlternatives('openapiObject' in document ? document.openapiObject : document.swaggerObject),
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  let authLimiter: AuthFailureLimiter | null = null;
  if (options.rateLimit !== false) {
    const perKey = options.rateLimit?.perKey ?? 60_000;
    const perIp = options.rateLimit?.perIp ?? 300;
    await app.register(rateLimit, {
      global: true,
      timeWindow: 60_000,
      max: (request) => (request.principal ? perKey : perIp),
      keyGenerator: (request) => (request.principal ? principalId(request.principal) : `ip:${request.ip}`),
      ...(redis
        ? { redis, nameSpace: options.rateLimit?.redisPrefix ?? 'trailguard:rl:', skipOnError: true }
        : {}),
      errorResponseBuilder: (_request, context) =>
        Object.assign(
          new TrailguardError(
            'RATE_LIMITED',
            `rate limit exceeded; retry in ${Math.ceil(context.ttl / 1000)} s`,
          ),
          { statusCode: context.statusCode },
        ),
    });
    authLimiter = authFailureLimiter(app, perIp);
  }
  registerAuth(app, auth, authLimiter);

  registerIdempotency(app, tg.database.db, tg.config.clock, options.idempotencyLeaseMs);

  // Metrics: count by route template, not by raw URL (bounded label values).
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });
  tg.logins.observe((record) => {
    metrics.logins.inc({ outcome: record.success ? 'success' : 'failure' });
  });
  const unsubscribe = tg.internals.onBatch((table, size) => {
    metrics.batchRows.observe({ table }, size);
    metrics.batchSize.observe({ table }, size);
  });
  const unsubscribeEvents = observeSecurityEvents(tg, metrics);
  const unsubscribeOperational = registerOperationalMetrics(metrics.registry, tg);

  // Admin sign-ins are counted apart from the application's ingested failures (which any ingest key
  // can send for any username and address).
  const adminGuard = await createAdminSignInGuard(tg, {
    threshold: options.lockout?.threshold ?? 5,
    windowMs: options.lockout?.windowMs ?? 15 * 60_000,
    redisUrl,
  });
  systemRoutes(app, { tg, metrics, redis });
  const batchBodyLimit = options.batchBodyLimit ?? 8 * 1024 * 1024;
  loginRoutes(app, { tg, metrics, batchBodyLimit });
  securityRoutes(app, { tg, metrics, batchBodyLimit, adminGuard });
  viewerRoutes(app, tg, auth);
  sessionRoutes(app, { tg, auth, guard: adminGuard });
  adminRoutes(app, auth);
  changeRoutes(app, tg);
  incidentRoutes(app, tg);
  privacyRoutes(app, tg);
  integrityRoutes(app, tg);
  dashboardRoutes(app, tg);

  // The admin UI (issue 6) is a static build; it talks to the API above with the session cookie + CSRF.
  const webRoot = options.webRoot === undefined ? DEFAULT_WEB_ROOT : options.webRoot;
  if (webRoot !== false && existsSync(webRoot)) {
    await app.register(fastifyStatic, { root: webRoot, prefix: '/', wildcard: false, index: 'index.html' });
    // Client-side routes fall back to index.html; API paths keep their JSON 404.
    app.get('/*', { config: { scope: 'public' }, schema: { hide: true } }, (request, reply) => {
      if (request.url.startsWith('/api/')) {
        return handleError(
          new TrailguardError('ROUTE_NOT_FOUND', `no route GET ${request.url.split('?')[0] ?? ''}`),
          request,
          reply,
        );
      }
      return reply.sendFile('index.html');
    });
  } else {
    app.get('/', { config: { scope: 'public' }, schema: { hide: true } }, async (_request, reply) =>
      reply.redirect('/docs'),
    );
  }

  const purge = setInterval(() => {
    void purgeIdempotencyKeys(tg.database.db, tg.config.clock.now()).catch(() => undefined);
  }, 3_600_000);
  purge.unref();
  app.addHook('onClose', async () => {
    clearInterval(purge);
    unsubscribe();
    unsubscribeEvents();
    unsubscribeOperational();
    await metricsListener?.close();
    if (redis) redis.disconnect();
    await adminGuard.close();
  });
  return app;
}
