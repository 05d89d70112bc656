/**
 * Incidents over HTTP: opening, linking and resolving (ingest scope, like change transitions, so an
 * alerting or CI pipeline can record them), the list with filters and one incident with its history.
 * @module
 */
import type { FastifyInstance } from 'fastify';
import {
  INCIDENT_ACTIONS,
  INCIDENT_LINK_ROLES,
  INCIDENT_SEVERITIES,
  INCIDENT_STATUSES,
  LinkIncidentFields,
  OpenIncidentFields,
  ResolveIncidentFields,
} from '../../incidents/index.ts';
import type {
  LinkIncidentInput,
  ListIncidentsQuery,
  OpenIncidentInput,
  ResolveIncidentInput,
} from '../../incidents/index.ts';
import { StringEnum } from '../../domain/validation.ts';
import type { Trailguard } from '../../trailguard.ts';
import { DateTime, IdParams, Nullable, Type, errorResponses } from '../schemas.ts';

const PersonSchema = Type.Object({ id: Type.String(), name: Type.String() });

const LinkedChangeSchema = Type.Object({
  changeId: Type.String({ format: 'uuid' }),
  role: StringEnum(INCIDENT_LINK_ROLES),
  title: Type.String(),
  version: Nullable(Type.String()),
  environment: Type.String(),
  deployedAt: DateTime,
  gitCommit: Nullable(Type.String()),
  via: StringEnum(['link', 'revert'] as const, {
    description: '`revert`: recognised from a change whose commit reverts a cause, not linked.',
  }),
});

/** A stored incident. */
export const IncidentSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  title: Type.String(),
  description: Nullable(Type.String()),
  severity: StringEnum(INCIDENT_SEVERITIES),
  status: StringEnum(INCIDENT_STATUSES),
  environment: Type.String(),
  affectedSystems: Type.Array(Type.String()),
  startedAt: DateTime,
  detectedAt: DateTime,
  resolvedAt: Nullable(DateTime),
  openedBy: PersonSchema,
  resolvedBy: Nullable(PersonSchema),
  resolution: Nullable(Type.String()),
  causes: Type.Array(LinkedChangeSchema),
  remedy: Nullable(LinkedChangeSchema),
  createdAt: DateTime,
  updatedAt: DateTime,
});

const IncidentWithHistorySchema = Type.Object({
  ...IncidentSchema.properties,
  history: Type.Array(
    Type.Object({
      id: Type.String(),
      incidentId: Type.String(),
      at: DateTime,
      by: PersonSchema,
      action: StringEnum(INCIDENT_ACTIONS),
      details: Type.Record(Type.String(), Type.Unknown()),
      note: Nullable(Type.String()),
    }),
    { description: 'One row per action, oldest first.' },
  ),
});

const ListQuery = Type.Object(
  {
    status: Type.Optional(StringEnum(INCIDENT_STATUSES)),
    severity: Type.Optional(StringEnum(INCIDENT_SEVERITIES)),
    environment: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    changeId: Type.Optional(Type.String({ format: 'uuid', description: 'Incidents linked to this change.' })),
    from: Type.Optional(Type.String({ maxLength: 64, description: 'Inclusive, on startedAt.' })),
    to: Type.Optional(Type.String({ maxLength: 64, description: 'Exclusive, on startedAt.' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);

const Errors = errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 429);

export function incidentRoutes(app: FastifyInstance, tg: Trailguard): void {
  const ingest = { scope: 'ingest' as const, idempotent: true };
  const idOf = (request: { params: unknown }) => (request.params as { id: string }).id;

  app.post(
    '/api/v1/incidents',
    {
      config: ingest,
      schema: {
        operationId: 'openIncident',
        summary: 'Open an incident, optionally linked to the change(s) that caused it',
        tags: ['incidents'],
        body: OpenIncidentFields,
        response: { 201: IncidentSchema, ...Errors },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await tg.incidents.open(request.body as OpenIncidentInput)),
  );

  app.post(
    '/api/v1/incidents/:id/resolve',
    {
      config: ingest,
      schema: {
        operationId: 'resolveIncident',
        summary: 'Resolve an open incident (once; 409 the second time), optionally with its remedy change',
        tags: ['incidents'],
        params: IdParams,
        body: ResolveIncidentFields,
        response: { 200: IncidentSchema, ...Errors },
      },
    },
    async (request) => tg.incidents.resolve(idOf(request), request.body as ResolveIncidentInput),
  );

  app.post(
    '/api/v1/incidents/:id/links',
    {
      config: ingest,
      schema: {
        operationId: 'linkIncidentChange',
        summary: 'Link a change as a cause (default) or as the remedy; 422 when the change does not exist',
        tags: ['incidents'],
        params: IdParams,
        body: LinkIncidentFields,
        response: { 200: IncidentSchema, ...Errors },
      },
    },
    async (request) => tg.incidents.link(idOf(request), request.body as LinkIncidentInput),
  );

  app.get(
    '/api/v1/incidents',
    {
      config: { scope: 'read' },
      schema: {
        operationId: 'listIncidents',
        summary: 'List incidents, newest start first, with filters and cursor pagination',
        tags: ['incidents'],
        querystring: ListQuery,
        response: {
          200: Type.Object({ items: Type.Array(IncidentSchema), nextCursor: Nullable(Type.String()) }),
          ...errorResponses(400, 401, 403, 429),
        },
      },
    },
    async (request) => tg.incidents.list(request.query as ListIncidentsQuery),
  );

  app.get(
    '/api/v1/incidents/:id',
    {
      config: { scope: 'read' },
      schema: {
        operationId: 'getIncident',
        summary: 'One incident with its causes, remedy and history',
        tags: ['incidents'],
        params: IdParams,
        response: { 200: IncidentWithHistorySchema, ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request) => tg.incidents.get(idOf(request)),
  );
}
