/**
 * Writing an ingestion batch (`POST /logins`, `POST /security-events`) and answering for it, and a
 * single keyed write (`writeItem`). Each item
 * is its own group-committed write, so a batch is not one transaction: items can land in different
 * statements, and a statement can fail while another commits. Validation runs for the whole batch
 * before anything is written, so what is left are database failures; the answer says exactly which
 * items were stored, and never claims "nothing stored" when something was.
 * @module
 */
import type { FastifyReply } from 'fastify';
import { TrailguardError } from '../domain/errors.ts';
import { logFailure, toTrailguardError } from './errors.ts';
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

/** Where a batch's items are recorded under an Idempotency-Key (see writeBatch). */
export interface BatchIdempotency {
  /** Whether an earlier attempt with this key may have stored items. */
  takenOver: boolean;
  /** Items stored under the key so far: index → record id. */
  storedItems(): Promise<Map<number, string>>;
}

/**
 * One keyed write (item 0 of its key), for the routes that take a single object: when an earlier
 * attempt with the key stored it, `load` reads the stored row as the answer instead of writing again;
 * a write that failed but is found stored (another attempt's copy refused by the unique item key, or a
 * commit whose acknowledgement was lost) is answered the same way.
 */
export async function writeItem<T>(
  idempotency: BatchIdempotency | null | undefined,
  write: () => Promise<T>,
  load: (id: string) => Promise<T>,
): Promise<T> {
  const storedId = async () => (idempotency ? (await idempotency.storedItems()).get(0) : undefined);
  if (idempotency?.takenOver) {
    const id = await storedId();
    if (id !== undefined) return load(id);
  }
  try {
    return await write();
  } catch (err) {
    const id = idempotency ? await storedId().catch(() => undefined) : undefined;
    if (id === undefined) throw err;
    return load(id);
  }
}

/**
 * Writes every item and answers: 201 `{ count, ids }` when all were stored; the first item's error
 * when none was; 207 `{ count, ids, errors }` when some were, so the caller resends only the failed
 * items. With `idempotency` (a keyed request whose writes record each item in the item's own
 * statement), items an earlier attempt with the key already stored are answered from the database
 * instead of written again, and an item whose write failed but is found stored (another attempt's
 * copy refused by the unique item key, or a commit whose acknowledgement was lost) counts as stored.
 */
export async function writeBatch<T>(
  reply: FastifyReply,
  items: readonly T[],
  write: (item: T, index: number) => Promise<{ id: string }>,
  idempotency?: BatchIdempotency | null,
): Promise<FastifyReply> {
  const stored = idempotency?.takenOver ? await idempotency.storedItems() : new Map<number, string>();
  const settled = await Promise.allSettled(
    items.map((item, index) => {
      const id = stored.get(index);
      return id === undefined ? write(item, index) : Promise.resolve({ id });
    }),
  );
  if (idempotency && settled.some((r) => r.status === 'rejected')) {
    const found = await idempotency.storedItems().catch(() => null);
    if (found)
      for (const [index, result] of settled.entries()) {
        const id = found.get(index);
        if (result.status === 'rejected' && id !== undefined)
          settled[index] = { status: 'fulfilled', value: { id } };
      }
  }
  const ids: (string | null)[] = [];
  const errors: BatchItemError[] = [];
  let first: TrailguardError | null = null;
  let firstServerFailure: { mapped: TrailguardError; cause: unknown; index: number } | null = null;
  let serverFailures = 0;
  for (const [index, result] of settled.entries()) {
    if (result.status === 'fulfilled') {
      ids.push(result.value.id);
      continue;
    }
    ids.push(null);
    const e = itemError(result.reason, index);
    first ??= e;
    if (e.status >= 500) {
      serverFailures++;
      firstServerFailure ??= { mapped: e, cause: result.reason, index };
    }
    errors.push({ index, ...e.toJSON() });
  }
  // Serialized here: the response schema is a union, and fast-json-stringify would run the validator
  // of each branch (a format check per id) to pick one.
  const send = (status: number, body: unknown) =>
    reply.code(status).type('application/json; charset=utf-8').send(JSON.stringify(body));
  // One line per request, not per item: a database outage fails whole batches of a thousand.
  if (firstServerFailure !== null && errors.length < items.length)
    logFailure(
      reply.request,
      firstServerFailure.mapped,
      firstServerFailure.cause,
      `${serverFailures} of ${items.length} batch items not stored (first: item ${firstServerFailure.index})`,
    );
  if (first === null) return send(201, { count: ids.length, ids });
  if (errors.length === items.length) throw first;
  return send(207, { count: items.length - errors.length, ids, errors } satisfies PartialBatchBody);
}
