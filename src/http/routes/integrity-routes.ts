/**
 * Tamper evidence for admins: `GET /api/v1/admin/integrity` verifies the seal chain and the sealed rows
 * and returns the report (200 with `ok: false` when it is not intact: the check itself succeeded).
 * Under /api/v1/admin rather than the /api/integrity first proposed: every admin-only route lives
 * there, behind the admin scope.
 * @module
 */
import type { FastifyInstance } from 'fastify';
import type { Trailguard } from '../../trailguard.ts';
import { invalid } from '../../domain/errors.ts';
import { STREAMS } from '../../integrity/canonical-row.ts';
import type { Stream } from '../../integrity/canonical-row.ts';
import { Type, errorResponses } from '../schemas.ts';

const Loose = Type.Object({}, { additionalProperties: true });

export function integrityRoutes(app: FastifyInstance, tg: Trailguard): void {
  app.get(
    '/api/v1/admin/integrity',
    {
      config: { scope: 'admin' },
      schema: {
        operationId: 'verifyIntegrity',
        summary:
          'Verify the tamper-evidence seals: per stream rows checked, and every problem found (ok: false)',
        tags: ['integrity'],
        querystring: Type.Object(
          {
            stream: Type.Optional(Type.Union(STREAMS.map((s) => Type.Literal(s)))),
            expectHead: Type.Optional(
              Type.String({
                pattern: '^[0-9]+:[0-9a-f]{64}$',
                description: 'a head logged by a seal run, <seq>:<hash>; it must still be in the chain',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: Loose, ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const q = request.query as { stream?: Stream; expectHead?: string };
      let expectHead: { seq: number; hash: string } | undefined;
      if (q.expectHead !== undefined) {
        const [seq, hash] = q.expectHead.split(':');
        if (!seq || !hash) throw invalid('expectHead', 'must be <seq>:<hash>');
        expectHead = { seq: Number(seq), hash };
      }
      return tg.integrity.verify({ stream: q.stream, expectHead });
    },
  );
}
