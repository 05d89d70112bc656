/**
 * The production change log over HTTP: logging and transitions (ingest scope, so CI pipelines can
 * call them), the list with filters and search, one change with its history, and the change report.
 * @module
 */
import type { FastifyInstance } from 'fastify';
import { writeItem } from '../batch.ts';
import { APPROVAL_STATUSES } from '../../domain/change-state.ts';
import {
  CHANGE_ACTIONS,
  CHANGE_TYPES,
  IMPACT_LEVELS,
  LogChangeFields,
  PersonInput,
  VALIDATION_STATUSES,
} from '../../domain/change.ts';
import type {
  ApprovalStatus,
  ChangeType,
  ImpactLevel,
  ListChangesQuery,
  LogChangeInput,
  ValidationStatus,
} from '../../domain/change.ts';
import { StringEnum } from '../../domain/validation.ts';
import type { Trailguard } from '../../trailguard.ts';
import { DateTime, IdParams, Nullable, Type, errorResponses } from '../schemas.ts';

const DAY = 86_400_000;

const PersonSchema = Type.Object({ id: Type.String(), name: Type.String() });

/** A stored change. */
export const ChangeSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  changeType: StringEnum(CHANGE_TYPES),
  title: Type.String(),
  description: Nullable(Type.String()),
  version: Nullable(Type.String()),
  impactLevel: StringEnum(IMPACT_LEVELS),
  affectedSystems: Type.Array(Type.String()),
  changeRequestId: Nullable(Type.String()),
  approvalStatus: StringEnum(APPROVAL_STATUSES),
  approvedBy: Nullable(PersonSchema),
  approvedAt: Nullable(DateTime),
  performedBy: PersonSchema,
  deployedAt: DateTime,
  canRollback: Type.Boolean(),
  rollbackInstructions: Nullable(Type.String()),
  rolledBack: Type.Boolean(),
  rolledBackAt: Nullable(DateTime),
  rolledBackBy: Nullable(PersonSchema),
  rollbackNotes: Nullable(Type.String()),
  rollbackForced: Type.Boolean(),
  testingNotes: Nullable(Type.String()),
  validationStatus: StringEnum(VALIDATION_STATUSES),
  documentationUrl: Nullable(Type.String()),
  ticket: Nullable(Type.String()),
  gitCommit: Nullable(Type.String()),
  gitBranch: Nullable(Type.String()),
  gitCommittedAt: Nullable(DateTime),
  environment: Type.String(),
  metadata: Type.Record(Type.String(), Type.Unknown()),
  createdAt: DateTime,
  updatedAt: DateTime,
});

const HistorySchema = Type.Object({
  id: Type.String(),
  changeId: Type.String(),
  at: DateTime,
  by: PersonSchema,
  action: StringEnum(CHANGE_ACTIONS),
  field: Nullable(Type.String()),
  oldValue: Type.Unknown(),
  newValue: Type.Unknown(),
  note: Nullable(Type.String()),
});

const ChangeWithHistorySchema = Type.Object({
  ...ChangeSchema.properties,
  history: Type.Array(HistorySchema, { description: 'Oldest first.' }),
});

const ChangePage = Type.Object({ items: Type.Array(ChangeSchema), nextCursor: Nullable(Type.String()) });

const Counts = Type.Record(Type.String(), Type.Integer());

const DoraFiguresSchema = {
  deployments: Type.Integer(),
  deploymentFrequency: Type.Number({ description: 'Deployments per day.' }),
  leadTimeForChangesHours: Nullable(Type.Number({ description: 'Median hours, commit → deploy.' })),
  failedDeployments: Type.Integer({ description: 'Caused an incident, rolled back or reverted.' }),
  changeFailureRate: Nullable(Type.Number({ description: 'Percent.' })),
  incidents: Type.Integer({ description: 'Incidents that started in the window.' }),
  timeToRestoreHours: Nullable(Type.Number({ description: 'Median hours, failure start → restored.' })),
};

export const DoraSchema = Type.Object({
  environment: Type.String(),
  ...DoraFiguresSchema,
  byService: Type.Array(Type.Object({ service: Type.String(), ...DoraFiguresSchema })),
});

export const ChangeReportSchema = Type.Object({
  from: DateTime,
  to: DateTime,
  total: Type.Integer(),
  byType: Counts,
  byImpact: Counts,
  byPerformer: Type.Array(Type.Object({ performer: PersonSchema, count: Type.Integer() })),
  highImpact: Type.Array(ChangeSchema),
  rollbackRate: Nullable(Type.Number({ description: 'Percent.' })),
  unapprovedCritical: Type.Array(ChangeSchema),
  dora: DoraSchema,
});

const Text = (max: number) => Type.String({ minLength: 1, maxLength: max });

const ListChangesQuerySchema = Type.Object(
  {
    changeType: Type.Optional(StringEnum(CHANGE_TYPES)),
    impactLevel: Type.Optional(StringEnum(IMPACT_LEVELS)),
    approvalStatus: Type.Optional(StringEnum(APPROVAL_STATUSES)),
    rolledBack: Type.Optional(Type.Boolean()),
    environment: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    search: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 256,
        description: 'Case-insensitive substring of title, description, version, ticket or git commit.',
      }),
    ),
    from: Type.Optional(Type.String({ maxLength: 64 })),
    to: Type.Optional(Type.String({ maxLength: 64 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);

const ReportQuerySchema = Type.Object(
  {
    from: Type.Optional(Type.String({ maxLength: 64, description: 'Default: 30 days ago.' })),
    to: Type.Optional(Type.String({ maxLength: 64, description: 'Default: now.' })),
    environment: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  },
  { additionalProperties: false },
);

const ChangeErrors = errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 429);

export function changeRoutes(app: FastifyInstance, tg: Trailguard): void {
  const ingest = { scope: 'ingest' as const, idempotent: true };

  app.post(
    '/api/v1/changes',
    {
      // The change records its Idempotency-Key in its own transaction (see writeItem).
      config: { ...ingest, idempotent: 'items' as const },
      schema: {
        operationId: 'logChange',
        summary: 'Log a production change (and its `created` history row)',
        tags: ['changes'],
        body: LogChangeFields,
        response: { 201: ChangeSchema, ...errorResponses(400, 401, 403, 409, 413, 415, 422, 429) },
      },
    },
    async (request, reply) => {
      const idem = request.idempotency;
      const change = await writeItem(
        idem,
        () =>
          tg.changes.log(request.body as LogChangeInput, {
            idempotency: idem ? { principal: idem.principal, key: idem.key, item: 0 } : undefined,
          }),
        async (id) => {
          const { history: _history, ...stored } = await tg.changes.get(id);
          return stored;
        },
      );
      return reply.code(201).send(change);
    },
  );

  app.post(
    '/api/v1/changes/:id/approve',
    {
      config: ingest,
      schema: {
        operationId: 'approveChange',
        summary: 'Approve a pending or emergency change (409 when the approver performed it)',
        tags: ['changes'],
        params: IdParams,
        body: Type.Object(
          { by: PersonInput, note: Type.Optional(Text(20_000)) },
          { additionalProperties: false },
        ),
        response: { 200: ChangeSchema, ...ChangeErrors },
      },
    },
    async (request) => {
      const body = request.body as { by: PersonInput; note?: string };
      return tg.changes.approve((request.params as { id: string }).id, body);
    },
  );

  app.post(
    '/api/v1/changes/:id/reject',
    {
      config: ingest,
      schema: {
        operationId: 'rejectChange',
        summary: 'Reject a pending or emergency change, with the reason',
        tags: ['changes'],
        params: IdParams,
        body: Type.Object({ by: PersonInput, reason: Text(20_000) }, { additionalProperties: false }),
        response: { 200: ChangeSchema, ...ChangeErrors },
      },
    },
    async (request) => {
      const body = request.body as { by: PersonInput; reason: string };
      return tg.changes.reject((request.params as { id: string }).id, body);
    },
  );

  app.post(
    '/api/v1/changes/:id/rollback',
    {
      config: ingest,
      schema: {
        operationId: 'rollBackChange',
        summary: 'Record the rollback of a change (once; 409 the second time)',
        tags: ['changes'],
        params: IdParams,
        body: Type.Object(
          {
            by: PersonInput,
            notes: Type.Optional(Text(20_000)),
            force: Type.Optional(Type.Boolean({ description: 'Overrides canRollback: false.' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: ChangeSchema, ...ChangeErrors },
      },
    },
    async (request) => {
      const body = request.body as { by: PersonInput; notes?: string; force?: boolean };
      return tg.changes.markRolledBack((request.params as { id: string }).id, body);
    },
  );

  app.post(
    '/api/v1/changes/:id/validation',
    {
      config: ingest,
      schema: {
        operationId: 'setChangeValidation',
        summary: 'Set the validation outcome of a change (smoke tests, checks)',
        tags: ['changes'],
        params: IdParams,
        body: Type.Object(
          { status: StringEnum(VALIDATION_STATUSES), by: PersonInput, notes: Type.Optional(Text(20_000)) },
          { additionalProperties: false },
        ),
        response: { 200: ChangeSchema, ...ChangeErrors },
      },
    },
    async (request) => {
      const body = request.body as { status: ValidationStatus; by: PersonInput; notes?: string };
      return tg.changes.setValidation((request.params as { id: string }).id, body);
    },
  );

  app.get(
    '/api/v1/changes',
    {
      config: { scope: 'read' },
      schema: {
        operationId: 'listChanges',
        summary: 'List changes, newest deployment first, with filters, search and cursor pagination',
        tags: ['changes'],
        querystring: ListChangesQuerySchema,
        response: { 200: ChangePage, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request) => {
      const q = request.query as Omit<ListChangesQuery, 'changeType' | 'impactLevel' | 'approvalStatus'> & {
        changeType?: ChangeType;
        impactLevel?: ImpactLevel;
        approvalStatus?: ApprovalStatus;
      };
      return tg.changes.list(q);
    },
  );

  app.get(
    '/api/v1/changes/recent',
    {
      config: { scope: 'read' },
      schema: {
        operationId: 'listRecentChanges',
        summary: "The latest changes (the seed's changelogs: last 20 by default)",
        tags: ['changes'],
        querystring: Type.Object(
          { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ items: Type.Array(ChangeSchema) }),
          ...errorResponses(400, 401, 403, 429),
        },
      },
    },
    async (request) => {
      const { limit } = request.query as { limit?: number };
      const page = await tg.changes.list({ limit: limit ?? 20 });
      return { items: page.items };
    },
  );

  app.get(
    '/api/v1/changes/:id',
    {
      config: { scope: 'read' },
      schema: {
        operationId: 'getChange',
        summary: 'One change with its history (oldest row first)',
        tags: ['changes'],
        params: IdParams,
        response: { 200: ChangeWithHistorySchema, ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request) => tg.changes.get((request.params as { id: string }).id),
  );

  app.get(
    '/api/v1/reports/changes',
    {
      config: { scope: 'read' },
      schema: {
        operationId: 'getChangeReport',
        summary: 'Change report for [from, to): counts, rollback rate, changes needing attention, DORA',
        tags: ['changes'],
        querystring: ReportQuerySchema,
        response: { 200: ChangeReportSchema, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request) => {
      const q = request.query as { from?: string; to?: string; environment?: string };
      const now = tg.config.clock.now();
      return tg.changes.report({
        from: q.from ?? new Date(now.getTime() - 30 * DAY),
        ...(q.to !== undefined ? { to: q.to } : {}),
        ...(q.environment !== undefined ? { environment: q.environment } : {}),
      });
    },
  );
}
