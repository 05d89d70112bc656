/**
 * The read endpoints the admin UI needs beyond the list: search (username or user agent), one record by
 * id, and the year → month → day counts behind the date drill-down.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { forEachBackend, openTrailguard } from '../helpers/backends.ts';
import { manualClock } from '../../src/index.ts';
import type { Trailguard } from '../../src/index.ts';
import { startServer } from './helpers.ts';
import type { TestServer } from './helpers.ts';

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const CURL = 'curl/8.5.0';

interface Page {
  items: { id: string; username: string; userAgent: string | null }[];
  nextCursor: string | null;
}

forEachBackend('admin UI read endpoints', (backend) => {
  let tg: Trailguard;
  let s: TestServer;

  before(async () => {
    // These tests check what a search matches, so it must never stop early: a search cut short by its
    // time budget (50 ms by default, easily spent on a loaded machine) returns a partial page by design,
    // which login-history.test.ts covers.
    tg = await openTrailguard(backend, {
      clock: manualClock(new Date('2026-03-15T12:00:00Z')),
      searchBudgetMs: 60_000,
    });
    s = await startServer(tg, { rateLimit: false });
    const at = (iso: string) => new Date(iso);
    await Promise.all([
      tg.logins.record({
        username: 'alice@example.com',
        success: true,
        userAgent: FIREFOX,
        occurredAt: at('2025-12-30T10:00:00Z'),
      }),
      tg.logins.record({
        username: 'bob@example.com',
        success: false,
        userAgent: CURL,
        occurredAt: at('2026-02-03T09:00:00Z'),
      }),
      tg.logins.record({
        username: 'carol_100%@example.com',
        success: true,
        userAgent: FIREFOX,
        occurredAt: at('2026-03-01T08:00:00Z'),
      }),
      tg.logins.record({
        username: 'dave@example.com',
        success: true,
        userAgent: CURL,
        occurredAt: at('2026-03-01T20:00:00Z'),
      }),
      tg.logins.record({
        username: 'erin@example.com',
        success: true,
        userAgent: FIREFOX,
        occurredAt: at('2026-03-14T23:59:00Z'),
      }),
    ]);
    await tg.logins.flush();
  });

  after(async () => {
    await s?.close();
    await tg?.close();
  });

  it('searches usernames and user agents case-insensitively', async () => {
    const byName = await s.call('GET', '/api/v1/logins?search=ALICE', { key: s.keys.read });
    assert.equal(byName.status, 200);
    assert.deepEqual(
      (byName.body as Page).items.map((i) => i.username),
      ['alice@example.com'],
    );
    const byAgent = await s.call('GET', '/api/v1/logins?search=curl%2F8', { key: s.keys.read });
    assert.deepEqual((byAgent.body as Page).items.map((i) => i.username).sort(), [
      'bob@example.com',
      'dave@example.com',
    ]);
  });

  it('treats % and _ in a search literally', async () => {
    const res = await s.call('GET', `/api/v1/logins?search=${encodeURIComponent('100%')}`, {
      key: s.keys.read,
    });
    assert.deepEqual(
      (res.body as Page).items.map((i) => i.username),
      ['carol_100%@example.com'],
    );
    const underscore = await s.call('GET', '/api/v1/logins?search=l_1', { key: s.keys.read });
    assert.deepEqual(
      (underscore.body as Page).items.map((i) => i.username),
      ['carol_100%@example.com'],
    );
  });

  it('combines search with the other filters', async () => {
    const res = await s.call('GET', '/api/v1/logins?search=firefox&from=2026-03-01T00:00:00Z', {
      key: s.keys.read,
    });
    assert.deepEqual(
      (res.body as Page).items.map((i) => i.username),
      ['erin@example.com', 'carol_100%@example.com'],
    );
  });

  it('rejects an empty search with the field', async () => {
    const res = await s.call('GET', '/api/v1/logins?search=', { key: s.keys.read });
    assert.equal(res.status, 400);
    assert.equal((res.body as { error: { field: string } }).error.field, 'search');
  });

  it('returns one record by id, and 404 for an unknown id', async () => {
    const list = (await s.call('GET', '/api/v1/logins?search=dave', { key: s.keys.read })).body as Page;
    const id = list.items[0]?.id ?? '';
    const one = await s.call('GET', `/api/v1/logins/${id}`, { key: s.keys.read });
    assert.equal(one.status, 200);
    assert.equal((one.body as { username: string }).username, 'dave@example.com');
    assert.equal((one.body as { userAgent: string }).userAgent, CURL);
    const missing = await s.call('GET', '/api/v1/logins/01a20000-0000-7000-8000-000000000000', {
      key: s.keys.read,
    });
    assert.equal(missing.status, 404);
    assert.equal((missing.body as { error: { code: string } }).error.code, 'NOT_FOUND');
  });

  it('lists the years and months that hold logins, and counts the attempts per day of a month', async () => {
    const years = await s.call('GET', '/api/v1/logins/calendar', { key: s.keys.read });
    assert.equal(years.status, 200);
    assert.deepEqual(years.body, {
      unit: 'year',
      items: [
        { period: '2025-01-01T00:00:00.000Z', count: null },
        { period: '2026-01-01T00:00:00.000Z', count: null },
      ],
    });
    const months = await s.call('GET', '/api/v1/logins/calendar?year=2026', { key: s.keys.read });
    assert.deepEqual(months.body, {
      unit: 'month',
      items: [
        { period: '2026-02-01T00:00:00.000Z', count: null },
        { period: '2026-03-01T00:00:00.000Z', count: null },
      ],
    });
    const days = await s.call('GET', '/api/v1/logins/calendar?year=2026&month=3', { key: s.keys.read });
    assert.deepEqual(days.body, {
      unit: 'day',
      items: [
        { period: '2026-03-01T00:00:00.000Z', count: 2 },
        { period: '2026-03-14T00:00:00.000Z', count: 1 },
      ],
    });
  });

  it('refuses a month without a year', async () => {
    const res = await s.call('GET', '/api/v1/logins/calendar?month=3', { key: s.keys.read });
    assert.equal(res.status, 400);
    assert.equal((res.body as { error: { field: string } }).error.field, 'month');
  });
});
