/**
 * Writing an ingestion batch (`POST /logins`, `POST /security-events`) and answering for it. Each item
 * is its own group-committed write, so a batch is not one transaction: items can land in different
 * statements, and a statement can fail while another commits. Validation runs for the whole batch
 * before anything is written, so what is left are database failures; the answer says exactly which
 * items were stored, and never claims "nothing stored" when something was.
 * @module
 */
import type { FastifyReply } from 'fastify';
import { TrailguardError } from '../domain/errors.ts';
import { toTrailguardError } from './errors.ts';
import { Nullable, Type } from './schemas.ts';

/** One failed item of a partly stored batch, as `207` lists it. */
export interface BatchItemError {
  index: number;
  code: string;
  message: string;
  field?: string;
}

/** The body of a partly stored batch (status 207). */
export interface PartialBatchBody {
  /** Items stored. */
  count: number;
  /** The stored id of each item, in request order; null for an item that was not stored. */
  ids: (string | null)[];
  /** The items that were not stored. */
  errors: BatchItemError[];
}

/** OpenAPI schema of the 207 answer. */
export const PartialBatchSchema = Type.Object(
  {
    count: Type.Integer({ description: 'Items stored.' }),
    ids: Type.Array(Nullable(Type.String({ format: 'uuid' })), {
      description: 'The stored id of each item in request order; null for an item not stored.',
    }),
    errors: Type.Array(
      Type.Object({
        index: Type.Integer(),
        code: Type.String(),
        message: Type.String(),
        field: Type.Optional(Type.String()),
      }),
    ),
  },
  {
    description:
      'Some items were stored and some were not (a database failure): resend only the items with a null id.',
  },
);

/** The error for item `index`, its field prefixed with the index as validation names batch items. */
function itemError(err: unknown, index: number): TrailguardError {
  const e = toTrailguardError(err);
  if (e.code !== 'VALIDATION_FAILED') return e;
  const field = e.field === undefined || e.field === 'input' ? `${index}` : `${index}.${e.field}`;
  return new TrailguardError(e.code, `${index}.${e.message}`, { field, status: e.status, cause: e });
}

/**
 * Writes every item and answers: 201 `{ count, ids }` when all were stored; the first item's error
 * (nothing was stored, a retry is safe) when none was; 207 `{ count, ids, errors }` when some were,
 * so the caller resends only the failed items. The 207 is remembered under an Idempotency-Key like
 * any result: a retry with the same key gets the same answer instead of storing the items again.
 */
export async function writeBatch<T>(
  reply: FastifyReply,
  items: readonly T[],
  write: (item: T) => Promise<{ id: string }>,
): Promise<FastifyReply> {
  const settled = await Promise.allSettled(items.map((item) => write(item)));
  const ids: (string | null)[] = [];
  const errors: BatchItemError[] = [];
  let first: TrailguardError | null = null;
  for (const [index, result] of settled.entries()) {
    if (result.status === 'fulfilled') {
      ids.push(result.value.id);
      continue;
    }
    ids.push(null);
    const e = itemError(result.reason, index);
    first ??= e;
    if (e.status >= 500) reply.log.error({ err: result.reason, index }, 'batch item not stored');
    errors.push({ index, ...e.toJSON() });
  }
  // Serialized here: the response schema is a union, and fast-json-stringify would run the validator
  // of each branch (a format check per id) to pick one.
  const send = (status: number, body: unknown) =>
    reply.code(status).type('application/json; charset=utf-8').send(JSON.stringify(body));
  if (first === null) return send(201, { count: ids.length, ids });
  if (errors.length === items.length) throw first;
  return send(207, { count: items.length - errors.length, ids, errors } satisfies PartialBatchBody);
}
