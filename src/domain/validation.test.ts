import { it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDate, parseEventTime, parseQueryDate } from './validation.ts';

it('refuses a calendar day that does not exist instead of rolling it over', () => {
  assert.throws(() => parseDate('2026-02-30', 'occurredAt'), {
    code: 'VALIDATION_FAILED',
    field: 'occurredAt',
  });
  assert.throws(() => parseDate('2026-13-01T00:00:00Z', 'from'), { field: 'from' });
  assert.throws(() => parseDate('2025-02-29', 'to'), { field: 'to' });
  assert.equal(parseDate('2024-02-29T12:00:00Z', 'd').toISOString(), '2024-02-29T12:00:00.000Z');
  // The offset belongs to the time of day: the date part is still checked as written.
  assert.equal(parseDate('2026-01-31T23:30:00-05:00', 'd').toISOString(), '2026-02-01T04:30:00.000Z');
});

it('bounds stored and filter dates to what the database holds, naming the field', () => {
  for (const bad of [-8.64e15, 8.64e15, '0001-01-01T00:00:00Z', '1969-12-31T23:59:59Z']) {
    assert.throws(() => parseQueryDate(bad, 'deployedAt'), {
      code: 'VALIDATION_FAILED',
      field: 'deployedAt',
    });
  }
  assert.equal(parseQueryDate('9999-12-31', 'to').getUTCFullYear(), 9999);
  const now = new Date('2026-11-23T00:00:00Z');
  assert.throws(() => parseEventTime('2026-11-24T01:00:00Z', 'occurredAt', now), { field: 'occurredAt' });
  assert.equal(parseEventTime('2026-11-23T23:00:00Z', 'occurredAt', now).getUTCDate(), 23);
});
