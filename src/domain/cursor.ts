/**
 * Opaque keyset cursors shared by every paginated list: the last row's (timestamp, id), base64url JSON.
 * @module
 */
import { invalid } from './errors.ts';

/** Encodes the last row's position. */
export function encodeKeysetCursor(at: Date, id: string): string {
  return Buffer.from(JSON.stringify([at.toISOString(), id])).toString('base64url');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EARLIEST_CURSOR = Date.UTC(100, 0, 1);
const LATEST_CURSOR = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** Decodes a cursor from `encodeKeysetCursor`, or throws VALIDATION_FAILED on `cursor`. */
export function decodeKeysetCursor(cursor: unknown): { at: Date; id: string } {
  if (typeof cursor === 'string') {
    try {
      const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
      if (
        Array.isArray(parsed) &&
        typeof parsed[0] === 'string' &&
        typeof parsed[1] === 'string' &&
        UUID.test(parsed[1])
      ) {
        const at = new Date(parsed[0]);
        // A cursor is the client's to forge: a time the database cannot read is not a cursor either.
        if (at.getTime() >= EARLIEST_CURSOR && at.getTime() <= LATEST_CURSOR) return { at, id: parsed[1] };
      }
    } catch {
      /* fall through */
    }
  }
  throw invalid('cursor', 'is not a cursor returned by a previous page');
}
