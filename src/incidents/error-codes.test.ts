import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { errorCodes } from '../domain/errors.ts';
import { INCIDENT_ERROR_CODES } from './error-codes.ts';

describe('incident error codes', () => {
  const docs = readFileSync(new URL('../../docs/changes.md', import.meta.url), 'utf8');

  it('are registered with their HTTP status and documented with the same status', () => {
    for (const [code, def] of Object.entries(INCIDENT_ERROR_CODES)) {
      assert.equal(errorCodes().get(code)?.status, def.status, code);
      assert.match(
        docs,
        new RegExp(`\\| \`${code}\` *\\| ${def.status} *\\|`),
        `docs/changes.md documents ${code}`,
      );
    }
  });
});
