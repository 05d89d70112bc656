import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FEATURES, SEALED_COLUMNS, sealedStreams } from './features.ts';
import { STREAMS } from './integrity/canonical-row.ts';
import type { Database } from './store/schema.ts';

describe('feature registry', () => {
  it('seals the streams the HTTP schema and the public API list, in the same order', () => {
    assert.deepEqual(
      sealedStreams().map((s) => s.name),
      [...STREAMS],
    );
    assert.deepEqual(Object.keys(SEALED_COLUMNS), [...STREAMS]);
  });

  it('gives every table to exactly one feature, and only tables the schema has', () => {
    const owners = new Map<string, string>();
    for (const f of FEATURES) {
      for (const t of f.tables) {
        assert.equal(owners.get(t), undefined, `${t} is claimed by ${owners.get(t)} and ${f.name}`);
        owners.set(t, f.name);
      }
      for (const t of f.partitioned ?? []) assert.ok(f.tables.includes(t), `${f.name} partitions ${t}`);
      for (const s of f.integrity ?? []) assert.ok(f.tables.includes(s.name), `${f.name} seals ${s.name}`);
    }
    // Keys of the Kysely schema that a feature must own (the catalogue and idempotency are the store's
    // and the server's).
    const schemaTables: (keyof Database)[] = ['login_history', 'security_event_rows', 'change_log', 'alert'];
    for (const t of schemaTables) assert.ok(owners.has(t), `${t} has no owning feature`);
  });

  it('has unique feature names and never defines an error code twice', () => {
    const names = FEATURES.map((f) => f.name);
    assert.equal(new Set(names).size, names.length);
    const codes = FEATURES.flatMap((f) => Object.keys(f.errorCodes ?? {}));
    assert.equal(new Set(codes).size, codes.length);
  });
});
