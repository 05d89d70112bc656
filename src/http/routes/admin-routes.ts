/**
 * Key and user management for admins (the same operations as `trailguard keys` and `trailguard users`).
 * @module
 */
import type { FastifyInstance } from 'fastify';
import type { AuthService } from '../../auth/auth-service.ts';
import { API_KEY_SCOPES } from '../../auth/auth-service.ts';
import { StringEnum } from '../../domain/validation.ts';
import { principalId } from '../auth.ts';
import { DateTime, IdParams, Nullable, Type, errorResponses } from '../schemas.ts';

const ApiKeySchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  scope: StringEnum(API_KEY_SCOPES),
  prefix: Type.String(),
  createdAt: DateTime,
  createdBy: Nullable(Type.String()),
  lastUsedAt: Nullable(DateTime),
  revokedAt: Nullable(DateTime),
});

const AdminUserSchema = Type.Object({
  id: Type.String(),
  username: Type.String(),
  createdAt: DateTime,
  passwordChangedAt: DateTime,
  disabledAt: Nullable(DateTime),
});

export function adminRoutes(app: FastifyInstance, auth: AuthService): void {
  app.get(
    '/api/v1/keys',
    {
      config: { scope: 'admin' },
      schema: {
        operationId: 'listApiKeys',
        summary: 'List API keys (never the keys themselves)',
        tags: ['admin'],
        response: { 200: Type.Object({ items: Type.Array(ApiKeySchema) }), ...errorResponses(401, 403) },
      },
    },
    async () => ({ items: await auth.apiKeys.list() }),
  );

  app.post(
    '/api/v1/keys',
    {
      config: { scope: 'admin' },
      schema: {
        operationId: 'createApiKey',
        summary: 'Create an API key; the key is in the response once and never again',
        tags: ['admin'],
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 128 }), scope: StringEnum(API_KEY_SCOPES) },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({ key: ApiKeySchema, secret: Type.String() }),
          ...errorResponses(400, 401, 403),
        },
      },
    },
    async (request, reply) => {
      const body = request.body as { name: string; scope: string };
      const created = await auth.apiKeys.create({
        ...body,
        createdBy: request.principal ? principalId(request.principal) : undefined,
      });
      return reply.code(201).send(created);
    },
  );

  app.delete(
    '/api/v1/keys/:id',
    {
      config: { scope: 'admin' },
      schema: {
        operationId: 'revokeApiKey',
        summary: 'Revoke an API key',
        tags: ['admin'],
        params: IdParams,
        response: { 200: ApiKeySchema, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => auth.apiKeys.revoke((request.params as { id: string }).id),
  );

  app.get(
    '/api/v1/users',
    {
      config: { scope: 'admin' },
      schema: {
        operationId: 'listAdminUsers',
        summary: 'List admin users',
        tags: ['admin'],
        response: { 200: Type.Object({ items: Type.Array(AdminUserSchema) }), ...errorResponses(401, 403) },
      },
    },
    async () => ({ items: await auth.users.list() }),
  );

  app.post(
    '/api/v1/users',
    {
      config: { scope: 'admin' },
      schema: {
        operationId: 'createAdminUser',
        summary: 'Create an admin user (without a password, one is generated and returned once)',
        tags: ['admin'],
        body: Type.Object(
          {
            username: Type.String({ minLength: 1, maxLength: 64 }),
            password: Type.Optional(Type.String({ minLength: 12, maxLength: 1024 })),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({ user: AdminUserSchema, password: Nullable(Type.String()) }),
          ...errorResponses(400, 401, 403, 409),
        },
      },
    },
    async (request, reply) => {
      const body = request.body as { username: string; password?: string };
      return reply.code(201).send(await auth.users.create(body));
    },
  );

  app.delete(
    '/api/v1/users/:id',
    {
      config: { scope: 'admin' },
      schema: {
        operationId: 'disableAdminUser',
        summary: 'Disable an admin user and end their sessions',
        tags: ['admin'],
        params: IdParams,
        response: { 200: AdminUserSchema, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => auth.users.disable((request.params as { id: string }).id),
  );
}
