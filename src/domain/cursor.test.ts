import { it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeKeysetCursor, encodeKeysetCursor } from './cursor.ts';

const forged = (at: string, id: string) => Buffer.from(JSON.stringify([at, id])).toString('base64url');

it('decodes its own cursors and refuses forged ones the database could not read', () => {
  const id = '0190f5a0-1234-7abc-8def-0123456789ab';
  const at = new Date('2026-11-23T10:00:00Z');
  assert.deepEqual(decodeKeysetCursor(encodeKeysetCursor(at, id)), { at, id });
  for (const bad of [
    forged(at.toISOString(), '------------------------------------'),
    forged(at.toISOString(), 'zzzzzzzz-1234-7abc-8def-0123456789ab'),
    forged('-200000-01-01T00:00:00Z', id),
    forged('+275000-01-01T00:00:00Z', id),
    'not base64 json',
  ]) {
    assert.throws(() => decodeKeysetCursor(bad), { code: 'VALIDATION_FAILED', field: 'cursor' });
  }
});
