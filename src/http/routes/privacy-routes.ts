/**
 * GDPR endpoints for admins: export what is stored about one of the application's users, and erase it.
 * @module
 */
import type { FastifyInstance } from 'fastify';
import type { Trailguard } from '../../trailguard.ts';
import { principalId } from '../auth.ts';
import { Type, errorResponses } from '../schemas.ts';

const UserParams = Type.Object({ userId: Type.String({ minLength: 1, maxLength: 256 }) });
const Loose = Type.Object({}, { additionalProperties: true });
const Username = Type.String({ minLength: 1, maxLength: 256 });
// Usernames of the user that Trailguard cannot link to the id itself (see SubjectOptions).
const Usernames = Type.Array(Username, { maxItems: 100 });

export function privacyRoutes(app: FastifyInstance, tg: Trailguard): void {
  app.get(
    '/api/v1/admin/privacy/users/:userId',
    {
      config: { scope: 'admin' },
      schema: {
        operationId: 'exportUserData',
        summary:
          'Export everything stored about a user (GDPR access request); an unknown user gives empty lists',
        tags: ['privacy'],
        params: UserParams,
        querystring: Type.Object(
          {
            username: Type.Optional(
              Type.Union([Username, Usernames], {
                description: 'a username of the user not linked to the id (repeatable)',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: Loose, ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const { username } = request.query as { username?: string | string[] };
      const usernames = username === undefined ? undefined : [username].flat();
      return tg.privacy.export((request.params as { userId: string }).userId, { usernames });
    },
  );

  app.post(
    '/api/v1/admin/privacy/users/:userId/erase',
    {
      config: { scope: 'admin' },
      schema: {
        operationId: 'eraseUserData',
        summary: "Erase a user's login history and security events; pseudonymise their change records",
        tags: ['privacy'],
        params: UserParams,
        body: Type.Object(
          {
            reason: Type.String({ minLength: 1, maxLength: 1024 }),
            requestedBy: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
            usernames: Type.Optional(Usernames),
          },
          { additionalProperties: false },
        ),
        response: { 200: Loose, ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const body = request.body as { reason: string; requestedBy?: string; usernames?: string[] };
      const admin = request.principal ? principalId(request.principal) : 'admin';
      return tg.privacy.erase((request.params as { userId: string }).userId, {
        requestedBy: body.requestedBy ?? admin,
        reason: body.reason,
        usernames: body.usernames,
      });
    },
  );
}
