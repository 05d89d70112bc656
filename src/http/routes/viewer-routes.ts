/**
 * End users' own login history: an application exchanges a read key for a short-lived viewer token for
 * one of its users; the token reads that user's last 50 logins and nothing else.
 * @module
 */
import type { FastifyInstance } from 'fastify';
import type { AuthService } from '../../auth/auth-service.ts';
import type { Trailguard } from '../../trailguard.ts';
import { principalId } from '../auth.ts';
import { DateTime, MyLogin, Type, errorResponses } from '../schemas.ts';

export function viewerRoutes(app: FastifyInstance, tg: Trailguard, auth: AuthService): void {
  app.post(
    '/api/v1/viewer-tokens',
    {
      config: { scope: 'read' },
      schema: {
        operationId: 'createViewerToken',
        summary: 'Issue a short-lived token that lets one end user read their own logins',
        tags: ['viewer'],
        body: Type.Object(
          {
            userId: Type.Union([Type.String({ minLength: 1, maxLength: 256 }), Type.Integer()]),
            ttlSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 3600, default: 900 })),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({ token: Type.String(), userId: Type.String(), expiresAt: DateTime }),
          ...errorResponses(400, 401, 403, 429),
        },
      },
    },
    async (request, reply) => {
      const body = request.body as { userId: string | number; ttlSeconds?: number };
      const issued = await auth.viewerTokens.issue({
        userId: body.userId,
        ttlSeconds: body.ttlSeconds,
        issuedBy: request.principal ? principalId(request.principal) : 'unknown',
      });
      return reply.code(201).send(issued);
    },
  );

  app.get(
    '/api/v1/me/logins',
    {
      config: { scope: 'viewer' },
      schema: {
        operationId: 'listMyLogins',
        summary: "The viewer token's user: their last 50 logins (the seed's my-logins)",
        tags: ['viewer'],
        response: { 200: Type.Object({ items: Type.Array(MyLogin) }), ...errorResponses(401, 403, 429) },
      },
    },
    async (request) => {
      const p = request.principal;
      // The scope check guarantees a viewer principal; the user id comes only from the token.
      if (p?.kind !== 'viewer') return { items: [] };
      const page = await tg.logins.list({ userId: p.userId, limit: 50 });
      return {
        items: page.items.map((r) => ({
          loginAt: r.loginAt,
          logoutAt: r.logoutAt,
          success: r.success,
          loginType: r.loginType,
          ipAddress: r.ipAddress,
          deviceType: r.deviceType,
          browser: r.browser,
          os: r.os,
          country: r.country,
          city: r.city,
          sessionDurationSeconds: r.sessionDurationSeconds,
        })),
      };
    },
  );
}
