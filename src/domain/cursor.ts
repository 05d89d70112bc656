/**
 * Opaque keyset cursors shared by every paginated list: the last row's (timestamp, id), base64url JSON.
 * @module
 */
import { invalid } from './errors.ts';

/** Encodes the last row's position. */
export function encodeKeysetCursor(at: Date, id: string): string {
  return Buffer.from(JSON.stringify([at.toISOString(), id])).toString('base64url');
}

/** Decodes a cursor from `encodeKeysetCursor`, or throws VALIDATION_FAILED on `cursor`. */
export function decodeKeysetCursor(cursor: unknown): { at: Date; id: string } {
  if (typeof cursor === 'string') {
    try {
      const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
      if (
        Array.isArray(parsed) &&
        typeof parsed[0] === 'string' &&
        typeof parsed[1] === 'string' &&
        /^[0-9a-f-]{36}$/i.test(parsed[1])
      ) {
        const at = new Date(parsed[0]);
        if (!Number.isNaN(at.getTime())) return { at, id: parsed[1] };
      }
    } catch {
      /* fall through */
    }
  }
  throw invalid('cursor', 'is not a cursor returned by a previous page');
}
