import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { forEachBackend, openTrailguard } from '../../test/helpers/backends.ts';
import type { Trailguard } from '../trailguard.ts';
import {
  EMPTY_DIGEST,
  addDigests,
  boundaryId,
  encodeFields,
  idTime,
  isUuidV7,
  rowHash,
  subtractDigests,
  sumHashes,
} from './canonical-row.ts';

describe('canonical row encoding', () => {
  it('tells NULL, the empty string and look-alike values apart, and counts UTF-8 bytes', () => {
    const encodings = [
      encodeFields([null]),
      encodeFields(['']),
      encodeFields(['-']),
      encodeFields(['a', 'b']),
      encodeFields(['a+1:b']),
      encodeFields(['ab']),
    ];
    assert.equal(new Set(encodings).size, encodings.length);
    assert.equal(encodeFields(['é']), '+2:é');
  });

  it('adds and subtracts row hashes exactly (a multiset digest)', () => {
    const row = (id: string) => ({ id, values: [id, 'x'] });
    const [a, b, c] = ['1', '2', '3'].map((n) =>
      rowHash('hmac-sha256', 'key-0123456789abcdef', 'compliance_receipt', row(n)),
    ) as [bigint, bigint, bigint];
    const all = sumHashes([a, b, c]);
    assert.equal(sumHashes([c, a, b]), all, 'order does not matter');
    assert.equal(subtractDigests(all, b), sumHashes([a, c]));
    assert.equal(addDigests(subtractDigests(all, b), b), all);
    assert.equal(subtractDigests(sumHashes([a]), a), EMPTY_DIGEST);
    assert.notEqual(rowHash('hmac-sha256', 'another-key-0123456', 'compliance_receipt', row('1')), a);
  });

  it('builds range boundaries that sort UUIDv7 ids by their millisecond', () => {
    const ms = Date.UTC(2026, 10, 23, 2, 0, 0);
    const id = '019aae11-2c80-7abc-8def-0123456789ab';
    assert.equal(idTime(boundaryId(ms)), ms);
    assert.ok(boundaryId(idTime(id)) <= id && id < boundaryId(idTime(id) + 1));
    assert.ok(isUuidV7(id));
    assert.ok(!isUuidV7('f47ac10b-58cc-4372-a567-0e02b2c3d479'));
  });
});

// The same bytes on PGlite and PostgreSQL, whatever the session's time zone, date style and float
// output settings: both backends must produce exactly these strings.
forEachBackend('canonical row text', (backend) => {
  let tg: Trailguard;
  before(async () => {
    tg = await openTrailguard(backend, { geo: false });
  });
  after(() => tg?.close());

  it('reads sealed columns as the same text on every backend and under any session settings', async () => {
    const id = '019aae11-2c80-7abc-8def-0123456789ab';
    const at = '2026-11-23 02:00:00.123456+00';
    await tg.internals.partitions.prepare('login_history', new Date('2026-11-23T02:00:00Z'));
    await sql`INSERT INTO login_history (id, user_id, username, login_type, success, ip_address, device_type,
        latitude, longitude, geo_accuracy_km, login_at, metadata)
      VALUES (${id}::uuid, NULL, 'ü@example.test', 'password', true, '2001:db8::1', 'desktop', 0.1, -73.98,
        1.5, ${at}::timestamptz, '{"b": [1, 2.50], "a": "x"}')`.execute(tg.database.db);
    const expected = [
      id,
      null,
      'ü@example.test',
      'password',
      'true',
      null,
      '2001:db8::1/128',
      null,
      null,
      null,
      null,
      'desktop',
      null,
      null,
      '3fb999999999999a',
      'c0527eb851eb851f',
      '3fc00000',
      null,
      '2026-11-23T02:00:00.123456Z',
      '{"a": "x", "b": [1, 2.50]}',
    ];
    assert.deepEqual((await tg.integrity.sealedRows('login_history', { ids: [id] }))[0]?.values, expected);
    const odd = await tg.database.db.transaction().execute(async (trx) => {
      await sql`SET LOCAL TimeZone = 'America/New_York'`.execute(trx);
      await sql`SET LOCAL DateStyle = 'SQL, DMY'`.execute(trx);
      await sql`SET LOCAL extra_float_digits = -3`.execute(trx);
      return tg.integrity.sealedRows('login_history', { ids: [id] }, trx);
    });
    assert.deepEqual(odd[0]?.values, expected);
  });
});
