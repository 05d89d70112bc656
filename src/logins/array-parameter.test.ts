import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { forEachBackend, openTrailguard } from '../../test/helpers/backends.ts';
import type { Trailguard } from '../trailguard.ts';
import { arrayParameter } from './login-repository.ts';

// A login batch goes to PostgreSQL as one array per column; every value must come back as it was sent.
forEachBackend('batch columns as arrays', (backend) => {
  let tg: Trailguard;
  before(async () => {
    tg = await openTrailguard(backend, { geo: false });
  });
  after(() => tg.close());

  const roundTrip = async <T>(values: (T | null)[], type: string) => {
    const r = await sql<{ v: T | null }>`
      SELECT v FROM unnest(${arrayParameter(values as never)}::text::${sql.raw(type)}[]) WITH ORDINALITY AS t(v, i)
      ORDER BY i`.execute(tg.database.db);
    return r.rows.map((x) => x.v);
  };

  it('round-trips text with and without characters that need escaping', async () => {
    const plain = ['plain', '', 'NULL', 'a,b', '{braces}', ' spaced ', "it's", 'Ünïcødé ✓ 𝄞', null];
    assert.deepEqual(await roundTrip(plain, 'text'), plain);
    const hard = [
      ...plain,
      'with "quotes"',
      'back\\slash\\',
      '\\"',
      'line\nbreak\r\ttab',
      '\u0001',
      '\ud800',
    ];
    const back = await roundTrip(hard, 'text');
    // A lone surrogate is not valid UTF-8; the driver sends the replacement character.
    assert.deepEqual(back.slice(0, -1), hard.slice(0, -1));
  });

  it('stores JSON columns of one batch row by row, as given (lone surrogates as U+FFFD)', async () => {
    const metadata = [
      { quote: 'say "hi"', slash: 'C:\\dir\\', nested: { list: [1, 'two', null, { three: true }] } },
      { unicode: 'Ünïcødé ✓ 𝄞', line: 'a\nb\tc', empty: {} },
      { app: 'plain', lone: 'a\ud800b', ['k\udc00']: 1 },
    ];
    // A lone surrogate is not valid in jsonb: it is stored as U+FFFD (as the driver does for text).
    const stored = [metadata[0], metadata[1], { app: 'plain', lone: 'a\ufffdb', ['k\ufffd']: 1 }];
    // Recorded together, so they share a batch; a failure has an event context, a success here none.
    const records = await Promise.all(
      metadata.map((m, i) =>
        tg.logins.record({ username: `json${i}@example.com`, success: i !== 1, metadata: m }),
      ),
    );
    for (const [i, r] of records.entries()) {
      assert.deepEqual((await tg.logins.get(r.id)).metadata, stored[i]);
    }
    // SQL NULL, not a JSON null: the security_events view reads "no context" as NULL.
    const rows = await sql<{ id: string; none: boolean }>`
      SELECT id, event_context IS NULL AS none FROM login_history WHERE username LIKE 'json%'`.execute(
      tg.database.db,
    );
    const none = new Map(rows.rows.map((r) => [r.id, r.none]));
    assert.equal(none.get(records[0]!.id), true, 'a plain success stores no event context');
    assert.equal(none.get(records[1]!.id), false, 'a failure stores its detection counts');
  });

  it('round-trips numbers and booleans', async () => {
    const numbers = [0, -1.5, 52.52, 1e-7, 1763840000123, null];
    assert.deepEqual(await roundTrip(numbers, 'float8'), numbers);
    assert.deepEqual(await roundTrip([true, false, null], 'boolean'), [true, false, null]);
  });
});
