/**
 * `GET /dashboard`: the seed's dashboard metrics in one response, read from the hourly rollups.
 * @module
 */
import type { FastifyInstance } from 'fastify';
import type { Trailguard } from '../../trailguard.ts';
import { DateTime, Nullable, Type, errorResponses } from '../schemas.ts';
import { activeSignals } from '../signals.ts';
import { ActiveSignalSchema } from './security-routes.ts';
import { DoraSchema } from './change-routes.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const KeyCount = Type.Object({ key: Type.String(), count: Type.Integer() });

export const DashboardSchema = Type.Object({
  generatedAt: DateTime,
  loginsPerHour: Type.Array(
    Type.Object({ hour: DateTime, success: Type.Integer(), failure: Type.Integer() }),
    {
      description: 'Last 24 hours.',
    },
  ),
  successRate: Type.Object(
    {
      total: Type.Integer(),
      success: Type.Integer(),
      failure: Type.Integer(),
      rate: Nullable(Type.Number()),
    },
    { description: 'Last 7 days; rate in percent, null without attempts.' },
  ),
  deviceTypes: Type.Array(KeyCount, { description: 'Last 30 days.' }),
  topFailingIps: Type.Array(Type.Object({ ip: Type.String(), count: Type.Integer() }), {
    description: 'Last hour, most failures first.',
  }),
  changes: Type.Object(
    {
      total: Type.Integer(),
      byImpact: Type.Object({
        critical: Type.Integer(),
        high: Type.Integer(),
        medium: Type.Integer(),
        low: Type.Integer(),
      }),
      rollbackRate: Nullable(Type.Number({ description: 'Percent; null without changes.' })),
      dora: DoraSchema,
    },
    { description: 'Changes deployed in the last 30 days: by impact, rollback rate and DORA metrics.' },
  ),
  activeSignals: Type.Array(ActiveSignalSchema, {
    description: 'Detection signals still inside their window, newest first (at most 20).',
  }),
});

export function dashboardRoutes(app: FastifyInstance, tg: Trailguard): void {
  app.get(
    '/api/v1/dashboard',
    {
      config: { scope: 'read' },
      schema: {
        operationId: 'getDashboard',
        summary:
          'Dashboard metrics: logins per hour (24 h), success rate (7 d), devices (30 d), top failing IPs (1 h), changes (30 d), active signals',
        tags: ['dashboard'],
        response: { 200: DashboardSchema, ...errorResponses(401, 403, 429) },
      },
    },
    async () => {
      const now = tg.config.clock.now();
      const end = new Date(now.getTime() + 1);
      const [day, week, month, top, signals, changes] = await Promise.all([
        tg.logins.stats({ from: new Date(now.getTime() - DAY), to: end, only: ['perHour'] }),
        tg.logins.stats({ from: new Date(now.getTime() - 7 * DAY), to: end, only: [] }),
        tg.logins.stats({ from: new Date(now.getTime() - 30 * DAY), to: end, only: ['deviceTypes'] }),
        tg.logins.topFailingIps({ from: new Date(now.getTime() - HOUR), to: end, limit: 10 }),
        activeSignals(tg, now, 20),
        tg.changes.report({ from: new Date(now.getTime() - 30 * DAY), to: end }),
      ]);
      return {
        generatedAt: now,
        loginsPerHour: day.perHour,
        successRate: {
          total: week.total,
          success: week.success,
          failure: week.failure,
          rate: week.successRate,
        },
        deviceTypes: month.deviceTypes,
        topFailingIps: top,
        changes: {
          total: changes.total,
          byImpact: changes.byImpact,
          rollbackRate: changes.rollbackRate,
          dora: changes.dora,
        },
        activeSignals: signals,
      };
    },
  );
}
