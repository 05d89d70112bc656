/**
 * Liveness, readiness and Prometheus metrics.
 * @module
 */
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { sql } from 'kysely';
import type { Trailguard } from '../../trailguard.ts';
import type { ServerMetrics } from '../metrics.ts';
import { Type, errorResponses } from '../schemas.ts';

const ReadySchema = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  database: Type.Object({ status: Type.String(), backend: Type.String() }),
  redis: Type.Object({ status: Type.String({ description: 'ok, down or not_configured' }) }),
});

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref()),
  ]);
}

export function systemRoutes(
  app: FastifyInstance,
  opts: { tg: Trailguard; metrics: ServerMetrics; redis: Redis | null },
): void {
  const { tg, metrics, redis } = opts;
  app.get(
    '/healthz',
    {
      config: { scope: 'public', rateLimit: false },
      schema: {
        operationId: 'getLiveness',
        summary: 'Liveness: the process is up',
        tags: ['system'],
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      config: { scope: 'public', rateLimit: false },
      schema: {
        operationId: 'getReadiness',
        summary: 'Readiness: the database answers; the Redis state is reported (Redis down does not fail it)',
        tags: ['system'],
        response: { 200: ReadySchema, 503: ReadySchema },
      },
    },
    async (_request, reply) => {
      let database = 'ok';
      try {
        await withTimeout(sql`SELECT 1`.execute(tg.database.db), 2000);
      } catch {
        database = 'down';
      }
      let redisStatus = 'not_configured';
      if (redis) {
        try {
          await withTimeout(redis.ping(), 1000);
          redisStatus = 'ok';
        } catch {
          redisStatus = 'down';
        }
      }
      const ok = database === 'ok';
      return reply.code(ok ? 200 : 503).send({
        status: ok ? 'ok' : 'unavailable',
        database: { status: database, backend: tg.database.backend },
        redis: { status: redisStatus },
      });
    },
  );

  app.get(
    '/metrics',
    {
      config: { scope: 'read', rateLimit: false },
      schema: {
        operationId: 'getMetrics',
        summary: 'Prometheus metrics (text exposition format); needs a read key',
        tags: ['system'],
        produces: ['text/plain'],
        response: { 200: Type.String(), ...errorResponses(401, 403) },
      },
    },
    async (_request, reply) => {
      const body = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(body);
    },
  );
}
