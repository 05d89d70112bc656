import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { createTrailguard, manualClock, TrailguardError } from '../index.ts';
import type { Trailguard, RecordLoginInput } from '../index.ts';
import { forEachBackend, openTrailguard } from '../../test/helpers/backends.ts';
import { fakeRequest, UA } from '../../test/fixtures.ts';

const T0 = new Date('2026-03-10T12:00:00Z');
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

async function count(tg: Trailguard): Promise<number> {
  const r = await tg.database.db
    .selectFrom('login_history')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return r.n;
}

async function rejects(p: Promise<unknown>, field: string, code = 'VALIDATION_FAILED'): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof TrailguardError, `expected TrailguardError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.equal(err.field, field);
    return true;
  });
}

forEachBackend('login history', (backend) => {
  let tg: Trailguard;
  const clock = manualClock(T0);

  before(async () => {
    tg = await openTrailguard(backend, { clock, trustProxy: false });
  });
  after(async () => {
    await tg?.close();
  });

  describe('record()', () => {
    it('stores every field of a successful login, enriched from the request', async () => {
      const rec = await tg.logins.record({
        username: 'alice@example.com',
        userId: 'u-1',
        success: true,
        loginType: 'sso',
        sessionKey: 'sess-secret-1',
        metadata: { tenant: 'acme' },
        request: fakeRequest('81.2.69.160', {
          'user-agent': UA.chromeWindows,
          referer: 'https://app.example.com/login',
          'accept-language': 'en-GB,en;q=0.8',
        }),
      });
      assert.match(rec.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
      const [stored] = (await tg.logins.list({ userId: 'u-1' })).items;
      assert.ok(stored);
      assert.deepEqual(stored, rec);
      assert.equal(stored.username, 'alice@example.com');
      assert.equal(stored.userId, 'u-1');
      assert.equal(stored.success, true);
      assert.equal(stored.loginType, 'sso');
      assert.equal(stored.failureReason, null);
      assert.equal(stored.ipAddress, '81.2.69.160');
      assert.equal(stored.userAgent, UA.chromeWindows);
      assert.equal(stored.browser, 'Chrome');
      assert.equal(stored.browserVersion, '131.0.0.0');
      assert.equal(stored.os, 'Windows 10');
      assert.equal(stored.deviceType, 'desktop');
      assert.equal(stored.country, 'GB');
      assert.equal(stored.loginAt.toISOString(), T0.toISOString());
      assert.equal(stored.logoutAt, null);
      assert.equal(stored.sessionDurationSeconds, null);
      assert.deepEqual(stored.metadata, {
        tenant: 'acme',
        referrer: 'https://app.example.com/login',
        acceptLanguage: 'en-GB,en;q=0.8',
      });
    });

    it('never stores the raw session key, only its SHA-256', async () => {
      await tg.logins.record({
        username: 'keyuser',
        userId: 'k-1',
        success: true,
        sessionKey: 'raw-session-KEY-42',
      });
      const r = await sql<{
        row: string;
      }>`SELECT row_to_json(h)::text AS row FROM login_history h WHERE user_id = 'k-1'`.execute(
        tg.database.db,
      );
      const row = r.rows[0]?.row ?? '';
      assert.ok(!row.includes('raw-session-KEY-42'));
      assert.ok(
        row.includes(
          `"session_key_hash":"${createHash('sha256').update('raw-session-KEY-42').digest('hex')}"`,
        ),
      );
    });

    it('stores the referrer without its query string or fragment, and redacts secret metadata keys', async () => {
      const rec = await tg.logins.record({
        username: 'magic@example.com',
        userId: 'm-1',
        success: true,
        loginType: 'magic_link',
        request: fakeRequest('203.0.113.77', {
          referer:
            'https://bob:pw-SECRET-1@app.example.com/login/verify?token=RAW-TOKEN-2&password=RAW-PW-3#frag-4',
        }),
        metadata: { plan: 'pro', password: 'hunter2-5', nested: { accessToken: 'tok-6' }, footprint: 'f' },
      });
      assert.equal(rec.metadata['referrer'], 'https://app.example.com/login/verify');
      assert.equal(rec.metadata['password'], '[REDACTED]');
      assert.deepEqual(rec.metadata['nested'], { accessToken: '[REDACTED]' });
      assert.equal(rec.metadata['plan'], 'pro');
      assert.equal(rec.metadata['footprint'], 'f');
      const r = await sql<{
        row: string;
      }>`SELECT row_to_json(h)::text AS row FROM login_history h WHERE user_id = 'm-1'`.execute(
        tg.database.db,
      );
      const row = r.rows[0]?.row ?? '';
      for (const secret of ['SECRET-1', 'RAW-TOKEN-2', 'RAW-PW-3', 'frag-4', 'hunter2-5', 'tok-6'])
        assert.ok(!row.includes(secret), secret);
      const relative = await tg.logins.record({
        username: 'magic@example.com',
        success: false,
        request: fakeRequest('203.0.113.77', { referer: '/reset?code=RAW-7' }),
      });
      assert.equal(relative.metadata['referrer'], '/reset');
    });

    it('records failed attempts for usernames that do not exist, without a user id', async () => {
      const rec = await tg.logins.record({
        username: 'nobody@example.com',
        success: false,
        failureReason: 'unknown_user',
        ip: '203.0.113.50',
      });
      assert.equal(rec.userId, null);
      assert.equal(rec.success, false);
      assert.equal(rec.failureReason, 'unknown_user');
      assert.equal(rec.loginType, 'password');
      const failed = await tg.logins.failed({ username: 'nobody@example.com', hours: 1 });
      assert.deepEqual(
        failed.map((f) => f.id),
        [rec.id],
      );
    });

    it('accepts every login type and stores numeric user ids as strings', async () => {
      for (const loginType of [
        'password',
        'magic_link',
        'api_key',
        'jwt',
        'sso',
        'oauth',
        'passkey',
      ] as const) {
        const rec = await tg.logins.record({ username: 'types', userId: 77, success: true, loginType });
        assert.equal(rec.loginType, loginType);
        assert.equal(rec.userId, '77');
      }
    });

    it('stores IPv4-mapped IPv6 addresses as IPv4 and keeps IPv6 as is', async () => {
      const a = await tg.logins.record({ username: 'mapped', success: true, ip: '::ffff:81.2.69.160' });
      assert.equal(a.ipAddress, '81.2.69.160');
      const b = await tg.logins.record({ username: 'v6', success: true, ip: '2A00:1450:4001:82B::200E' });
      assert.equal(b.ipAddress, '2a00:1450:4001:82b::200e');
      assert.equal(b.country, 'DE');
      const [stored] = (await tg.logins.list({ username: 'mapped' })).items;
      assert.equal(stored?.ipAddress, '81.2.69.160');
    });

    it('truncates an oversized user agent to 512 characters and strips NUL bytes', async () => {
      const rec = await tg.logins.record({
        username: 'big\u0000ua',
        success: false,
        userAgent: `${UA.firefoxLinux} ${'x'.repeat(5000)}`,
      });
      assert.equal(rec.userAgent?.length, 512);
      assert.equal(rec.username, 'bigua');
      assert.equal(rec.browser, 'Firefox');
      const [stored] = (await tg.logins.list({ username: 'bigua' })).items;
      assert.equal(stored?.userAgent?.length, 512);
    });

    it('keeps a username with CR/LF verbatim as data', async () => {
      const rec = await tg.logins.record({ username: 'eve\r\nINFO forged line', success: false });
      const [stored] = (await tg.logins.list({ username: 'eve\r\nINFO forged line' })).items;
      assert.equal(stored?.id, rec.id);
    });

    it('gathers concurrent calls into batches and commits every row and rollup count', async () => {
      // More calls than one batch holds, so on PostgreSQL batches overlap and add their rollup counts
      // under different shards.
      const n = 1300;
      const before = await count(tg);
      const at = new Date('2026-03-10T09:30:00Z');
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          tg.logins.record({
            username: `bulk${i}`,
            success: i % 3 !== 0,
            ip: `198.51.100.${i % 200}`,
            occurredAt: at,
          }),
        ),
      );
      assert.equal(new Set(results.map((r) => r.id)).size, n);
      assert.equal(await count(tg), before + n);
      const stats = await tg.logins.stats({ from: '2026-03-10T09:00:00Z', to: '2026-03-10T10:00:00Z' });
      const failures = results.filter((r) => !r.success).length;
      assert.equal(failures, Math.ceil(n / 3));
      assert.equal(stats.total, n);
      assert.equal(stats.failure, failures);
      assert.equal(stats.success, n - failures);
    });

    it('stores an attempt in a month far from now, creating its partition', async () => {
      const old = await tg.logins.record({
        username: 'backfill',
        success: true,
        occurredAt: '2024-01-15T08:00:00Z',
      });
      const [stored] = (await tg.logins.list({ username: 'backfill' })).items;
      assert.equal(stored?.id, old.id);
      assert.equal(stored?.loginAt.toISOString(), '2024-01-15T08:00:00.000Z');
    });
  });

  describe('partitions', () => {
    it('recreates a month another process dropped while this one still had it cached', async () => {
      await tg.logins.record({ username: 'dropped', success: true, occurredAt: '2025-06-10T00:00:00Z' });
      // What another server's retention run does: the month is gone, this process does not know.
      await sql`DROP TABLE login_history_p2025_06`.execute(tg.database.db);
      await sql`DELETE FROM trailguard_partition WHERE name = 'login_history_p2025_06'`.execute(
        tg.database.db,
      );
      const late = await tg.logins.record({
        username: 'dropped',
        success: false,
        occurredAt: '2025-06-11T00:00:00Z',
      });
      const { items } = await tg.logins.list({ username: 'dropped' });
      assert.deepEqual(
        items.map((r) => r.id),
        [late.id],
      );
    });
  });

  describe('client IP and trusted proxies', () => {
    it('ignores X-Forwarded-For from an untrusted peer (default: trust nobody)', async () => {
      const rec = await tg.logins.record({
        username: 'spoof',
        success: false,
        request: fakeRequest('198.51.100.7', { 'x-forwarded-for': '8.8.8.8' }),
      });
      assert.equal(rec.ipAddress, '198.51.100.7');
    });

    it('uses the socket address for IPv6 peers', async () => {
      const rec = await tg.logins.record({
        username: 'v6peer',
        success: true,
        request: fakeRequest('2001:db8::5'),
      });
      assert.equal(rec.ipAddress, '2001:db8::5');
    });

    it('unwraps IPv4-mapped IPv6 socket addresses', async () => {
      const rec = await tg.logins.record({
        username: 'mappedpeer',
        success: true,
        request: fakeRequest('::ffff:198.51.100.9'),
      });
      assert.equal(rec.ipAddress, '198.51.100.9');
    });
  });

  describe('user agents', () => {
    const cases: [keyof typeof UA, string, string | null, string][] = [
      ['chromeWindows', 'desktop', 'Chrome', 'Windows'],
      ['firefoxLinux', 'desktop', 'Firefox', 'Ubuntu'],
      ['safariMac', 'desktop', 'Safari', 'Mac OS'],
      ['iphone', 'mobile', 'Mobile Safari', 'iOS'],
      ['androidPhone', 'mobile', 'Chrome', 'Android'],
      ['ipad', 'tablet', 'Mobile Safari', 'iOS'],
      ['galaxyTab', 'tablet', 'Chrome', 'Android'],
      ['googlebot', 'bot', null, ''],
      ['bingbot', 'bot', null, ''],
    ];
    for (const [name, deviceType, browser, os] of cases) {
      it(`classifies ${name} as ${deviceType}`, async () => {
        const rec = await tg.logins.record({ username: `ua-${name}`, success: true, userAgent: UA[name] });
        assert.equal(rec.deviceType, deviceType);
        if (browser) assert.equal(rec.browser, browser);
        if (os) assert.ok(rec.os?.startsWith(os), `os ${rec.os} should start with ${os}`);
      });
    }

    it('marks a missing user agent as unknown', async () => {
      const rec = await tg.logins.record({ username: 'no-ua', success: true });
      assert.equal(rec.deviceType, 'unknown');
      assert.equal(rec.browser, null);
    });
  });

  describe('recordLogout()', () => {
    it('closes the login with the same session key and sets the duration', async () => {
      await tg.logins.record({
        username: 'bob',
        userId: 'b-1',
        success: true,
        sessionKey: 'laptop',
        occurredAt: '2026-03-10T08:00:00Z',
      });
      await tg.logins.record({
        username: 'bob',
        userId: 'b-1',
        success: true,
        sessionKey: 'phone',
        occurredAt: '2026-03-10T09:00:00Z',
      });
      const closed = await tg.logins.recordLogout({
        userId: 'b-1',
        sessionKey: 'laptop',
        occurredAt: '2026-03-10T10:30:00Z',
      });
      assert.ok(closed);
      assert.equal(closed.loginAt.toISOString(), '2026-03-10T08:00:00.000Z');
      assert.equal(closed.logoutAt?.toISOString(), '2026-03-10T10:30:00.000Z');
      assert.equal(closed.sessionDurationSeconds, 9000);
      const open = (await tg.logins.list({ userId: 'b-1' })).items.filter((r) => r.logoutAt === null);
      assert.equal(open.length, 1);
      assert.equal(open[0]?.loginAt.toISOString(), '2026-03-10T09:00:00.000Z');
    });

    it("without a session key closes the user's latest open successful login", async () => {
      await tg.logins.record({
        username: 'carol',
        userId: 'c-1',
        success: true,
        occurredAt: '2026-03-10T07:00:00Z',
      });
      await tg.logins.record({
        username: 'carol',
        userId: 'c-1',
        success: true,
        occurredAt: '2026-03-10T08:00:00Z',
      });
      await tg.logins.record({
        username: 'carol',
        userId: 'c-1',
        success: false,
        occurredAt: '2026-03-10T08:30:00Z',
      });
      const closed = await tg.logins.recordLogout({ userId: 'c-1', occurredAt: '2026-03-10T09:00:00Z' });
      assert.equal(closed?.loginAt.toISOString(), '2026-03-10T08:00:00.000Z');
      assert.equal(closed?.sessionDurationSeconds, 3600);
    });

    it('does not close another device’s session when the key is unknown', async () => {
      await tg.logins.record({
        username: 'dan',
        userId: 'd-1',
        success: true,
        sessionKey: 'tablet',
        occurredAt: '2026-03-10T07:00:00Z',
      });
      const closed = await tg.logins.recordLogout({
        userId: 'd-1',
        sessionKey: 'some-other-key',
        occurredAt: '2026-03-10T08:00:00Z',
      });
      assert.equal(closed, null);
    });

    it('does not close a login recorded without a key when the logout key matches no session', async () => {
      await tg.logins.record({
        username: 'k',
        userId: 'K-10',
        success: true,
        occurredAt: '2026-03-10T07:00:00Z',
      });
      const closed = await tg.logins.recordLogout({
        userId: 'K-10',
        sessionKey: 'does-not-match-anything',
        occurredAt: '2026-03-10T08:00:00Z',
      });
      assert.equal(closed, null);
      const [login] = (await tg.logins.list({ userId: 'K-10' })).items;
      assert.equal(login?.logoutAt, null);
    });

    it('two concurrent logouts without a key close two different sessions', async () => {
      for (let round = 0; round < 3; round++) {
        const userId = `cu-${round}`;
        for (let i = 0; i < 20; i++)
          await tg.logins.record({
            username: 'cu',
            userId,
            success: true,
            occurredAt: new Date(Date.parse('2026-03-10T06:00:00Z') + i * 60_000),
          });
        const at = '2026-03-10T09:00:00Z';
        const [a, b] = await Promise.all([
          tg.logins.recordLogout({ userId, occurredAt: at }),
          tg.logins.recordLogout({ userId, occurredAt: at }),
        ]);
        assert.ok(a && b, 'both close a session');
        assert.notEqual(a.id, b.id);
        const closed = (await tg.logins.list({ userId, limit: 100 })).items.filter(
          (r) => r.logoutAt !== null,
        );
        assert.equal(closed.length, 2);
      }
    });

    it('returns null when nothing is open', async () => {
      assert.equal(await tg.logins.recordLogout({ userId: 'never-logged-in' }), null);
    });

    it('closes a login recorded a moment before, still in the batch', async () => {
      const p = tg.logins.record({ username: 'fast', userId: 'f-1', success: true, sessionKey: 'k' });
      const closed = await tg.logins.recordLogout({ userId: 'f-1', sessionKey: 'k' });
      assert.equal(closed?.id, (await p).id);
    });
  });

  describe('queries', () => {
    before(async () => {
      const base = { userId: 'q-1', username: 'quinn@example.com' };
      const rows: RecordLoginInput[] = [
        { ...base, success: true, ip: '10.1.2.3', userAgent: UA.iphone, occurredAt: '2026-03-09T10:00:00Z' },
        {
          ...base,
          success: false,
          ip: '10.1.2.4',
          occurredAt: '2026-03-10T11:00:00Z',
          failureReason: 'bad_password',
        },
        {
          ...base,
          success: true,
          ip: '10.200.0.1',
          userAgent: UA.chromeWindows,
          occurredAt: '2026-03-10T11:30:00Z',
          loginType: 'passkey',
        },
        { ...base, success: false, ip: '192.0.2.1', occurredAt: '2026-03-10T11:45:00Z' },
        { ...base, success: false, ip: '2001:db8:1::9', occurredAt: '2026-03-10T11:50:00Z' },
        { username: 'quinn@example.com', success: false, ip: '8.8.8.8', occurredAt: '2026-03-08T11:50:00Z' },
      ];
      for (const r of rows) await tg.logins.record(r);
    });

    it('lastLogin returns the last successful login', async () => {
      const last = await tg.logins.lastLogin('q-1');
      assert.equal(last?.loginAt.toISOString(), '2026-03-10T11:30:00.000Z');
      assert.equal(await tg.logins.lastLogin('no-such-user'), null);
    });

    it('failed returns failed attempts in the window, newest first', async () => {
      const failed = await tg.logins.failed({ username: 'quinn@example.com', hours: 24 });
      assert.deepEqual(
        failed.map((f) => f.loginAt.toISOString()),
        ['2026-03-10T11:50:00.000Z', '2026-03-10T11:45:00.000Z', '2026-03-10T11:00:00.000Z'],
      );
      const byCidr = await tg.logins.failed({ ip: '10.0.0.0/8', hours: 24 });
      assert.deepEqual(
        byCidr.map((f) => f.ipAddress),
        ['10.1.2.4'],
      );
      const longer = await tg.logins.failed({ username: 'quinn@example.com', hours: 72 });
      assert.equal(longer.length, 4);
    });

    it('list filters by user, IP, CIDR (v4 and v6), outcome, type, device, country and dates', async () => {
      const ids = async (q: Parameters<Trailguard['logins']['list']>[0]) =>
        (await tg.logins.list({ username: 'quinn@example.com', ...q })).items.map((r) =>
          r.loginAt.toISOString().slice(0, 16),
        );
      assert.equal((await ids({})).length, 6);
      assert.deepEqual(await ids({ userId: 'q-1', success: true }), ['2026-03-10T11:30', '2026-03-09T10:00']);
      assert.deepEqual(await ids({ ip: '10.1.2.3' }), ['2026-03-09T10:00']);
      assert.deepEqual(await ids({ ip: '10.1.0.0/16' }), ['2026-03-10T11:00', '2026-03-09T10:00']);
      assert.deepEqual(await ids({ ip: '2001:db8::/32' }), ['2026-03-10T11:50']);
      assert.deepEqual(await ids({ loginType: 'passkey' }), ['2026-03-10T11:30']);
      assert.deepEqual(await ids({ deviceType: 'mobile' }), ['2026-03-09T10:00']);
      assert.deepEqual(await ids({ country: 'us' }), ['2026-03-08T11:50']);
      assert.deepEqual(await ids({ from: '2026-03-10T00:00:00Z', to: '2026-03-10T11:45:00Z' }), [
        '2026-03-10T11:30',
        '2026-03-10T11:00',
      ]);
    });

    it('list paginates with cursors without gaps or repeats', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: Awaited<ReturnType<Trailguard['logins']['list']>> = await tg.logins.list({
          username: 'quinn@example.com',
          limit: 4,
          cursor,
        });
        seen.push(...page.items.map((r) => r.id));
        cursor = page.nextCursor;
        pages++;
      } while (cursor);
      assert.equal(pages, 2);
      assert.equal(seen.length, 6);
      assert.equal(new Set(seen).size, 6);
      const all = (await tg.logins.list({ username: 'quinn@example.com' })).items.map((r) => r.id);
      assert.deepEqual(seen, all);
    });
  });

  describe('bad input is rejected with the field named, and nothing is written', () => {
    const bad: [string, unknown, string][] = [
      ['missing username', { success: true }, 'username'],
      ['empty username', { username: '', success: true }, 'username'],
      ['blank username', { username: '   ', success: true }, 'username'],
      ['success not a boolean', { username: 'x', success: 'true' }, 'success'],
      ['unknown loginType', { username: 'x', success: true, loginType: 'telepathy' }, 'loginType'],
      ['unparseable ip', { username: 'x', success: true, ip: '999.1.1.1' }, 'ip'],
      ['metadata not an object', { username: 'x', success: true, metadata: ['a'] }, 'metadata'],
      ['metadata a string', { username: 'x', success: true, metadata: 'a=b' }, 'metadata'],
      ['occurredAt not a date', { username: 'x', success: true, occurredAt: 'last tuesday' }, 'occurredAt'],
      [
        'occurredAt an invalid Date',
        { username: 'x', success: true, occurredAt: new Date('nope') },
        'occurredAt',
      ],
      ['unknown field', { username: 'x', success: true, pasword: 'hunter2' }, 'pasword'],
      [
        'oversized metadata',
        { username: 'x', success: true, metadata: { blob: 'x'.repeat(20_000) } },
        'metadata',
      ],
    ];
    // Nested values are named by their path.
    let deep: unknown = 'bottom';
    for (let i = 0; i < 40; i++) deep = { d: deep };
    bad.push(
      [
        'NaN deep in metadata',
        { username: 'x', success: true, metadata: { a: [1, { b: NaN }] } },
        'metadata.a[1].b',
      ],
      [
        'metadata nested over 32 levels',
        { username: 'x', success: true, metadata: deep },
        `metadata${'.d'.repeat(33)}`,
      ],
      // 16 KiB of JSON counted in bytes: 6,000 three-byte characters are 18,000 bytes.
      [
        'metadata over the limit in bytes',
        { username: 'x', success: true, metadata: { s: '€'.repeat(6000) } },
        'metadata',
      ],
    );
    for (const [name, input, field] of bad) {
      it(`rejects ${name}`, async () => {
        const before = await count(tg);
        await rejects(tg.logins.record(input as RecordLoginInput), field);
        await tg.logins.flush();
        assert.equal(await count(tg), before);
      });
    }

    it("measures the metadata limit on the caller's metadata, not on the referrer it adds", async () => {
      // {"s":"…"} exactly at the limit: accepted, with the request's Referer stored beside it.
      const atLimit = { s: 'x'.repeat(16 * 1024 - '{"s":""}'.length) };
      assert.equal(Buffer.byteLength(JSON.stringify(atLimit)), 16 * 1024);
      const request = fakeRequest('203.0.113.9', { referer: 'https://app.example.com/login' });
      const r = await tg.logins.record({
        username: 'limit@example.com',
        success: true,
        metadata: atLimit,
        request,
      });
      assert.deepEqual(r.metadata, { ...atLimit, referrer: 'https://app.example.com/login' });
      assert.deepEqual((await tg.logins.get(r.id)).metadata, r.metadata);
      const over = { s: `${atLimit.s}x` };
      await rejects(
        tg.logins.record({ username: 'limit@example.com', success: true, metadata: over }),
        'metadata',
      );
    });

    it('rejects bad query arguments', async () => {
      await rejects(tg.logins.list({ ip: 'not-an-ip/8' }), 'ip');
      await rejects(tg.logins.list({ ip: '10.0.0.0/33' }), 'ip');
      await rejects(tg.logins.list({ cursor: 'garbage' }), 'cursor');
      await rejects(tg.logins.list({ limit: 0 }), 'limit');
      await rejects(tg.logins.list({ deviceType: 'phone' as never }), 'deviceType');
      await rejects(tg.logins.failed({ hours: -1 }), 'hours');
      await rejects(tg.logins.recordLogout({ userId: '' }), 'userId');
      await rejects(tg.logins.failed({ hours: 1e9 }), 'hours');
    });

    it('rejects a misspelt filter or option instead of returning unfiltered rows', async () => {
      await rejects(tg.logins.list({ usrname: 'x' } as never), 'usrname');
      await rejects(tg.logins.failed({ hours: 1, usernme: 'x' } as never), 'usernme');
      await rejects(tg.logins.calendar({ yaer: 2026 } as never), 'yaer');
      await rejects(tg.logins.stats({ from: T0, unitl: T0 } as never), 'unitl');
      await rejects(tg.logins.topFailingIps({ from: T0, limt: 3 } as never), 'limt');
      // A key given as undefined is no filter, as before.
      await tg.logins.list({ username: undefined, limit: 1 });
    });
  });
});

describe('trusted proxies', () => {
  let tg: Trailguard;
  before(async () => {
    tg = await createTrailguard({
      dataDir: 'memory://',
      logger: quiet,
      securityLog: { enabled: false },
      trustProxy: ['10.0.0.0/8', 'loopback'],
    });
  });
  after(() => tg.close());

  it('walks X-Forwarded-For through a chain of two trusted proxies', async () => {
    const rec = await tg.logins.record({
      username: 'chain',
      success: true,
      request: fakeRequest('10.0.0.2', { 'x-forwarded-for': '81.2.69.160, 10.0.0.1' }),
    });
    assert.equal(rec.ipAddress, '81.2.69.160');
    assert.equal(rec.country, 'GB');
  });

  it('stops at the first untrusted hop, so a client cannot prepend a fake address', async () => {
    const rec = await tg.logins.record({
      username: 'prepend',
      success: true,
      request: fakeRequest('10.0.0.2', { 'x-forwarded-for': '1.1.1.1, 198.51.100.20, 10.0.0.1' }),
    });
    assert.equal(rec.ipAddress, '198.51.100.20');
  });

  it('ignores the header when the peer itself is not trusted', async () => {
    const rec = await tg.logins.record({
      username: 'untrusted',
      success: true,
      request: fakeRequest('198.51.100.30', { 'x-forwarded-for': '1.1.1.1' }),
    });
    assert.equal(rec.ipAddress, '198.51.100.30');
  });

  it('trusts an IPv4-mapped loopback peer and resolves an IPv6 client', async () => {
    const rec = await tg.logins.record({
      username: 'v6client',
      success: true,
      request: fakeRequest('::ffff:127.0.0.1', { 'x-forwarded-for': '2a00:1450:4001:82b::200e' }),
    });
    assert.equal(rec.ipAddress, '2a00:1450:4001:82b::200e');
    assert.equal(rec.country, 'DE');
  });

  it('accepts a hop count', async () => {
    const one = await createTrailguard({
      dataDir: 'memory://',
      logger: quiet,
      securityLog: { enabled: false },
      trustProxy: 1,
      geo: false,
    });
    try {
      const rec = await one.logins.record({
        username: 'hops',
        success: true,
        request: fakeRequest('203.0.113.1', { 'x-forwarded-for': '198.51.100.1, 198.51.100.2' }),
      });
      assert.equal(rec.ipAddress, '198.51.100.2');
    } finally {
      await one.close();
    }
  });

  it('refuses an unknown option instead of ignoring it', async () => {
    await assert.rejects(createTrailguard({ dataDir: 'memory://', trustProxi: true } as never), {
      code: 'CONFIG_INVALID',
      field: 'trustProxi',
    });
  });

  it('refuses a trustProxy entry that is not an address, CIDR or keyword', async () => {
    await assert.rejects(
      createTrailguard({
        dataDir: 'memory://',
        logger: quiet,
        securityLog: { enabled: false },
        trustProxy: ['10.0.0.0/8', 'nginx'],
      }),
      {
        code: 'CONFIG_INVALID',
        field: 'trustProxy[1]',
      },
    );
  });
});

describe('embedded database on disk', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'trailguard-test-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps every row across a restart on the same data directory', async () => {
    const first = await createTrailguard({ dataDir: dir, logger: quiet, securityLog: { enabled: false } });
    const written = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        first.logins.record({ username: `persist${i}`, userId: 'p', success: true }),
      ),
    );
    await first.close();
    const second = await createTrailguard({ dataDir: dir, logger: quiet, securityLog: { enabled: false } });
    try {
      const page = await second.logins.list({ userId: 'p', limit: 100 });
      assert.deepEqual(page.items.map((r) => r.id).sort(), written.map((r) => r.id).sort());
    } finally {
      await second.close();
    }
  });

  it('refuses to open a data directory another instance holds', async () => {
    const holder = await createTrailguard({ dataDir: dir, logger: quiet, securityLog: { enabled: false } });
    try {
      await assert.rejects(
        createTrailguard({ dataDir: dir, logger: quiet, securityLog: { enabled: false } }),
        {
          code: 'DATABASE_UNREACHABLE',
          field: 'dataDir',
        },
      );
    } finally {
      await holder.close();
    }
  });
});

forEachBackend('login stats over days', (backend) => {
  // Windows longer than a day read whole days from the daily rollup and their ends from the hourly one;
  // the counts must be those of the raw rows, hour-rounded at both ends.
  let tg: Trailguard;
  const clock = manualClock('2026-06-30T12:00:00Z');
  const at = (iso: string) => new Date(iso);
  const attempts: { at: Date; success: boolean; deviceType: string }[] = [];

  before(async () => {
    tg = await openTrailguard(backend, { clock, geo: false });
    const UAS = { desktop: UA.chromeWindows, mobile: UA.iphone };
    const times = [
      '2026-06-01T00:00:00Z', // first instant of a day
      '2026-06-01T23:59:59Z',
      '2026-06-02T10:15:00Z',
      '2026-06-03T10:45:00Z', // inside the window's first hour (10:00–11:00)
      '2026-06-03T09:59:59Z', // just before it
      '2026-06-04T00:00:00Z',
      '2026-06-10T18:00:00Z',
      '2026-06-12T06:30:00Z', // inside the window's last hour (06:00–07:00)
      '2026-06-12T07:00:00Z', // just after it
      '2026-06-13T01:00:00Z',
    ];
    for (const [i, t] of times.entries()) {
      const deviceType = i % 3 === 0 ? 'mobile' : 'desktop';
      const success = i % 2 === 0;
      await tg.logins.record({
        username: `days${i}`,
        success,
        ip: '198.51.100.30',
        userAgent: UAS[deviceType as keyof typeof UAS],
        occurredAt: t,
      });
      attempts.push({ at: at(t), success, deviceType });
    }
  });
  after(async () => {
    await tg?.close();
  });

  it('counts the same as the raw rows for windows that end inside a day, on a day, or span no whole day', async () => {
    const windows: [string, string][] = [
      ['2026-06-03T10:30:00Z', '2026-06-12T06:10:00Z'],
      ['2026-06-01T00:00:00Z', '2026-06-13T00:00:00Z'],
      ['2026-06-02T00:00:00Z', '2026-06-02T23:00:00Z'],
      ['2026-05-01T00:00:00Z', '2026-07-01T00:00:00Z'],
    ];
    for (const [from, to] of windows) {
      const lo = Math.floor(at(from).getTime() / 3_600_000) * 3_600_000;
      const hi = Math.ceil(at(to).getTime() / 3_600_000) * 3_600_000;
      const inside = attempts.filter((a) => a.at.getTime() >= lo && a.at.getTime() < hi);
      const stats = await tg.logins.stats({ from, to });
      assert.equal(stats.total, inside.length, `${from} → ${to}`);
      assert.equal(stats.success, inside.filter((a) => a.success).length, `${from} → ${to}`);
      const mobile = stats.deviceTypes.find((d) => d.key === 'mobile')?.count ?? 0;
      assert.equal(mobile, inside.filter((a) => a.deviceType === 'mobile').length, `${from} → ${to}`);
    }
    const june = await tg.logins.calendar({ year: 2026, month: 6 });
    assert.deepEqual(
      june.items.map((d) => [d.period.toISOString().slice(0, 10), d.count]),
      [
        ['2026-06-01', 2],
        ['2026-06-02', 1],
        ['2026-06-03', 2],
        ['2026-06-04', 1],
        ['2026-06-10', 1],
        ['2026-06-12', 2],
        ['2026-06-13', 1],
      ],
    );
  });
});

forEachBackend('login search', (backend) => {
  // A zero budget makes every search page stop after its first window, so the paging is exercised
  // whatever the machine's speed.
  let tg: Trailguard;
  const clock = manualClock('2026-05-20T12:00:00Z');
  const ago = (ms: number) => new Date(clock.now().getTime() - ms);
  const DAY = 86_400_000;

  before(async () => {
    tg = await openTrailguard(backend, { clock, searchBudgetMs: 0 });
    const at = (username: string, occurredAt: Date) =>
      tg.logins.record({ username, success: true, ip: '198.51.100.20', occurredAt });
    for (let i = 0; i < 40; i++) await at(`filler${i}@example.com`, ago(i * 18 * 3_600_000 + 60_000));
    await at('needle-new@example.com', ago(3_600_000));
    await at('needle-edge@example.com', ago(DAY)); // exactly on the first window's lower bound
    await at('needle-old@example.com', ago(20 * DAY));
  });
  after(async () => {
    await tg?.close();
  });

  it('returns a partial page that says how far back it searched, and its cursor goes on from there', async () => {
    const first = await tg.logins.list({ search: 'NEEDLE' });
    assert.deepEqual(
      first.items.map((r) => r.username),
      ['needle-new@example.com', 'needle-edge@example.com'],
    );
    assert.equal(first.searchedBack?.toISOString(), ago(DAY).toISOString());
    assert.ok(first.nextCursor);
    const seen = [...first.items];
    let cursor: string | null = first.nextCursor;
    let pages = 1;
    while (cursor !== null) {
      const page = await tg.logins.list({ search: 'needle', cursor });
      seen.push(...page.items);
      cursor = page.nextCursor;
      assert.ok(++pages < 50, 'the search must reach the oldest login');
    }
    // Every match once, newest first, none repeated at a window boundary.
    assert.deepEqual(
      seen.map((r) => r.username),
      ['needle-new@example.com', 'needle-edge@example.com', 'needle-old@example.com'],
    );
  });

  it('stops at `from` and fills a page without searchedBack when matches are plentiful', async () => {
    const bounded = await tg.logins.list({ search: 'needle', from: ago(2 * DAY) });
    let cursor = bounded.nextCursor;
    const seen = [...bounded.items];
    while (cursor !== null) {
      const page = await tg.logins.list({ search: 'needle', from: ago(2 * DAY), cursor });
      seen.push(...page.items);
      cursor = page.nextCursor;
    }
    assert.ok(!seen.some((r) => r.username === 'needle-old@example.com'));
    const full = await tg.logins.list({ search: 'filler', limit: 1 });
    assert.equal(full.items.length, 1);
    assert.equal(full.searchedBack, undefined);
    assert.ok(full.nextCursor);
  });
});

describe('unreachable PostgreSQL', () => {
  it('fails at start with an error naming the URL, password redacted', async () => {
    await assert.rejects(
      createTrailguard({
        databaseUrl: 'postgres://auditor:s3cret-pw@127.0.0.1:1/trail',
        logger: quiet,
        securityLog: { enabled: false },
      }),
      (err: unknown) => {
        assert.ok(err instanceof TrailguardError);
        assert.equal(err.code, 'DATABASE_UNREACHABLE');
        assert.match(err.message, /127\.0\.0\.1:1/);
        assert.ok(!err.message.includes('s3cret-pw'));
        return true;
      },
    );
  });
});
