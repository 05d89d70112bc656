/**
 * tg.security on every database backend: events stored and logged, detection through login history,
 * bad input, log-line injection, check/reset, pagination and the geo signals.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { manualClock } from '../../src/domain/clock.ts';
import { resolveConfig } from '../../src/config.ts';
import type { GeoLookup, GeoResult, SecurityEvent, Trailguard } from '../../src/index.ts';
import { forEachBackend, openTrailguard, REDIS_SKIP, TEST_REDIS_URL } from '../helpers/backends.ts';

const T0 = '2026-05-10T08:00:00Z';

function lineSink() {
  const lines: string[] = [];
  let buf = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      buf += String(chunk);
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
      cb();
    },
  });
  return { stream, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, any>) }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

const fieldOf = (field: string) => (e: unknown) => {
  const err = e as { code?: string; field?: string };
  assert.equal(err.code, 'VALIDATION_FAILED');
  assert.equal(err.field, field);
  return true;
};

forEachBackend('security service', (backend) => {
  let tg: Trailguard;
  const sink = lineSink();
  const clock = manualClock(T0);
  before(async () => {
    // The seed's shape, kept for parsers written against it; the ECS and OTel shapes: security-log.test.ts.
    tg = await openTrailguard(backend, { clock, securityLog: { destination: sink.stream, format: 'seed' } });
  });
  after(() => tg.close());

  it('records a failed login, stores and logs login_failed and runs detection in one call', async () => {
    sink.lines.length = 0;
    for (let i = 0; i < 7; i++) {
      await tg.logins.record({
        username: 'alice@example.com',
        success: false,
        ip: '198.51.100.7',
        failureReason: 'invalid_password',
      });
    }
    const history = await tg.logins.list({ ip: '198.51.100.7' });
    assert.equal(history.items.length, 7);
    const failed = await tg.security.events({ type: 'login_failed', ip: '198.51.100.7' });
    assert.equal(failed.items.length, 7);
    const newest = failed.items[0];
    assert.equal(newest?.severity, 'error');
    assert.equal(newest?.context['failed_attempts_from_ip'], 7);
    assert.equal(newest?.context['is_suspicious'], true);
    const oldest = failed.items[6];
    assert.equal(oldest?.severity, 'warning');
    // The event is stored with its login's subject: who, where, when and why.
    const login = history.items.find((l) => l.id === newest?.context['login_id']);
    assert.ok(login, 'the event names its login');
    assert.equal(newest?.username, 'alice@example.com');
    assert.equal(newest?.ipAddress, '198.51.100.7');
    assert.equal(newest?.reason, 'invalid_password');
    assert.equal(newest?.occurredAt.getTime(), login.loginAt.getTime());
    assert.equal(newest?.userAgent, login.userAgent);
    assert.equal(newest?.userId, login.userId);
    const alerts = await tg.security.events({ type: 'suspicious_activity', ip: '198.51.100.7' });
    assert.equal(alerts.items.length, 1, 'one suspicious_activity per pattern and key per window');
    assert.equal(alerts.items[0]?.severity, 'critical');
    assert.equal(alerts.items[0]?.context['pattern'], 'brute_force');
    assert.equal(alerts.items[0]?.context['count'], 5);
    assert.equal(alerts.items[0]?.username, 'alice@example.com');

    const lines = sink.parsed();
    assert.equal(lines.length, 8);
    const line = lines.find((l) => l['context'].event_type === 'login_failed');
    assert.ok(line);
    assert.deepEqual(Object.keys(line).sort(), [
      'context',
      'level',
      'location',
      'logger',
      'message',
      'timestamp',
    ]);
    assert.equal(line['logger'], 'security.events');
    assert.equal(line['level'], 'WARNING');
    assert.equal(line['message'], 'Failed login attempt for alice@example.com');
    assert.equal(line['context'].email, 'alice@example.com');
    assert.equal(line['context'].ip_address, '198.51.100.7');
    assert.equal(line['context'].reason, 'invalid_password');
    assert.equal(line['context'].category, 'authentication');
    // The line names the stored event by its id.
    assert.ok(failed.items.some((e) => e.id === line['context'].event_id));
    for (const k of [
      'failed_attempts_from_ip',
      'unique_ips_for_email',
      'unique_emails_from_ip',
      'is_suspicious',
    ])
      assert.ok(k in line['context'], k);
    // location names this test file (the application), not a Trailguard file.
    assert.match(line['location'].file, /test\/security\/security-service\.test\.ts$/);
    assert.equal(typeof line['location'].line, 'number');
    assert.ok(
      lines.some((l) => l['level'] === 'CRITICAL' && l['context'].event_type === 'suspicious_activity'),
    );
  });

  it('loginFailed() returns the verdict and counts', async () => {
    let r;
    for (let i = 0; i < 10; i++)
      r = await tg.security.loginFailed({ username: 'bob@example.com', ip: `192.0.2.${i + 1}` });
    assert.equal(r?.suspicious, true);
    assert.deepEqual(r?.counts, {
      failedAttemptsFromIp: 1,
      uniqueIpsForAccount: 10,
      uniqueAccountsFromIp: 1,
    });
    assert.equal(r?.signals[0]?.pattern, 'distributed_attack');
    assert.equal(await tg.security.isSuspicious({ username: 'bob@example.com' }), true);
    assert.equal(await tg.security.isSuspicious({ ip: '192.0.2.200' }), false);
  });

  it('emits login_success for a successful login', async () => {
    await tg.logins.record({ username: 'carol@example.com', userId: 42, success: true, ip: '203.0.113.9' });
    const page = await tg.security.events({ type: 'login_success', userId: 42 });
    assert.equal(page.items.length, 1);
    assert.equal(page.items[0]?.severity, 'info');
    assert.equal(page.items[0]?.category, 'authentication');
    assert.equal(page.items[0]?.username, 'carol@example.com');
    assert.equal(page.items[0]?.userId, '42');
    assert.equal(page.items[0]?.ipAddress, '203.0.113.9');
  });

  it('logs account and authorization events with their category and severity', async () => {
    const base = { username: 'dave@example.com', userId: 'u-7', ip: '203.0.113.20' };
    const locked = await tg.security.accountLocked({ ...base, reason: 'too_many_failed_attempts' });
    const unlocked = await tg.security.accountUnlocked(base);
    const pw = await tg.security.passwordChanged(base);
    const tfa = await tg.security.twoFactorEnabled(base);
    const denied = await tg.security.permissionDenied({ ...base, resource: 'invoice:9', action: 'delete' });
    const reset = await tg.security.log('password_reset_requested', base);
    const manual = await tg.security.log('2fa_disabled', { ...base, severity: 'error' });
    assert.deepEqual(
      [locked, unlocked, pw, tfa, denied, reset, manual].map((e) => [e.type, e.category, e.severity]),
      [
        ['account_locked', 'account_management', 'warning'],
        ['account_unlocked', 'account_management', 'info'],
        ['password_changed', 'account_management', 'info'],
        ['2fa_enabled', 'account_management', 'info'],
        ['permission_denied', 'authorization', 'warning'],
        ['password_reset_requested', 'account_management', 'info'],
        ['2fa_disabled', 'account_management', 'error'],
      ],
    );
    assert.deepEqual([denied.context['resource'], denied.context['action']], ['invoice:9', 'delete']);
  });

  it('rejects bad input with a code and field, storing and logging nothing', async () => {
    const before = (await tg.security.events({ limit: 1000 })).items.length;
    const lines = sink.lines.length;
    await assert.rejects(tg.security.loginFailed({ username: 'e@example.com' } as never), fieldOf('ip'));
    await assert.rejects(
      tg.security.loginFailed({ username: 'e@example.com', ip: '999.1.1.1' }),
      fieldOf('ip'),
    );
    await assert.rejects(tg.security.loginFailed({ username: '  ', ip: '1.2.3.4' }), fieldOf('username'));
    await assert.rejects(tg.security.log('root_kit' as never, { ip: '1.2.3.4' }), fieldOf('type'));
    await assert.rejects(
      tg.security.log('login_success', { ip: '1.2.3.4', severity: 'fatal' as never }),
      fieldOf('severity'),
    );
    await assert.rejects(tg.security.accountLocked({ username: 'e@example.com' }), fieldOf('ip'));
    await assert.rejects(
      tg.security.permissionDenied({ userId: 'x', ip: '1.2.3.4', resource: '', action: 'read' }),
      fieldOf('resource'),
    );
    await assert.rejects(tg.security.events({ severity: 'loud' as never }), fieldOf('severity'));
    await assert.rejects(tg.security.events({ tpye: 'login_failed' } as never), fieldOf('tpye'));
    await assert.rejects(
      tg.security.loginFailed({ username: 'e@example.com', ip: '1.2.3.4', resaon: 'x' } as never),
      fieldOf('resaon'),
    );
    await assert.rejects(
      tg.security.log('account_locked', { ip: '1.2.3.4', sevrity: 'error' } as never),
      fieldOf('sevrity'),
    );
    assert.equal((await tg.security.events({ limit: 1000 })).items.length, before);
    assert.equal(sink.lines.length, lines);
    assert.equal(await tg.security.failedLoginCount('1.2.3.4'), 0);
  });

  it('keeps CR/LF and 10 kB usernames inside one JSON line, cut to 256 characters', async () => {
    sink.lines.length = 0;
    const forged = 'mallory\r\n{"level":"INFO","logger":"security.events","message":"all good"}\n';
    await tg.security.loginFailed({ username: forged, ip: '198.51.100.99' });
    await tg.security.loginFailed({ username: 'x'.repeat(10_000), ip: '198.51.100.99' });
    assert.equal(sink.lines.length, 2);
    const [a, b] = sink.parsed();
    assert.equal(a?.['context'].username, forged.trim());
    assert.equal(b?.['context'].username.length, 256);
    assert.ok((sink.lines[1] ?? '').length < 4096);
  });

  it('never writes a password, token or raw session key to a line', async () => {
    sink.lines.length = 0;
    await tg.logins.record({
      username: 'frank@example.com',
      success: true,
      ip: '203.0.113.30',
      sessionKey: 'raw-session-key-123',
    });
    await tg.security.passwordChanged({
      username: 'frank@example.com',
      ip: '203.0.113.30',
      context: { password: 'hunter2', nested: { accessToken: 'tok-abc', apiKey: 'k-1' }, note: 'ok' },
    });
    const all = sink.lines.join('\n');
    for (const secret of ['raw-session-key-123', 'hunter2', 'tok-abc', 'k-1'])
      assert.ok(!all.includes(secret), secret);
    const stored = (await tg.security.events({ type: 'password_changed', username: 'frank@example.com' }))
      .items[0];
    assert.equal(stored?.context['password'], '[REDACTED]');
    assert.equal(stored?.context['note'], 'ok');
  });

  it('redacts password confirmations, JWTs, bearer tokens and PINs but not harmless keys (audit A #7)', async () => {
    sink.lines.length = 0;
    const secrets = {
      passwordConfirmation: 'p2-x',
      password_confirm: 'p3-x',
      jwt: 'eyJ-x',
      bearer: 'b-x',
      pin: '1234-x',
    };
    const ev = await tg.security.log('account_locked', {
      username: 'redact@example.com',
      ip: '203.0.113.31',
      context: { ...secrets, footprint: 'harmless' },
    });
    const line = sink.parsed()[0]?.['context'];
    const stored = (await tg.security.events({ type: 'account_locked', username: 'redact@example.com' }))
      .items[0];
    for (const ctx of [ev.context, stored?.context, line]) {
      for (const key of Object.keys(secrets)) assert.equal(ctx[key], '[REDACTED]', key);
      assert.equal(ctx['footprint'], 'harmless');
    }
    assert.ok(!sink.lines.join('\n').includes('-x"'));
  });

  it('does not let a caller context forge the core fields of the line (audit A #6)', async () => {
    sink.lines.length = 0;
    const forged = {
      event_type: 'login_success',
      category: 'system',
      severity: 'info',
      username: 'alice',
      email: 'alice@example.com',
      user_id: 'alice-id',
      ip_address: '10.0.0.1',
      user_agent: 'forged-agent',
      reason: 'forged',
      event_id: 'forged-id',
      note: 'kept',
    };
    const ev = await tg.security.log('permission_denied', {
      username: 'mallory',
      ip: '198.51.100.66',
      userAgent: 'real-agent',
      context: forged,
    });
    const line = sink.parsed()[0];
    const c = line?.['context'];
    assert.equal(c.event_type, 'permission_denied');
    assert.equal(c.category, 'authorization');
    assert.equal(c.severity, 'warning');
    assert.equal(line?.['level'], 'WARNING');
    assert.equal(c.username, 'mallory');
    assert.equal('email' in c, false);
    assert.equal('user_id' in c, false);
    assert.equal(c.ip_address, '198.51.100.66');
    assert.equal(c.user_agent, 'real-agent');
    assert.equal(c.reason, null);
    assert.equal(c.event_id, ev.id);
    assert.equal(c.note, 'kept');
    assert.match(String(line?.['message']), /mallory/);
    // The stored row keeps the caller's keys in its context, apart from the event's own columns.
    assert.equal(ev.type, 'permission_denied');
    assert.equal(ev.username, 'mallory');
    assert.equal(ev.context['username'], 'alice');
  });

  it('stores, logs and counts a lone UTF-16 surrogate as U+FFFD instead of losing the event (audit A #3)', async () => {
    sink.lines.length = 0;
    const r = await tg.security.loginFailed({
      username: 'attacker\ud800',
      ip: '198.51.100.140',
      reason: 'invalid\udc00',
      userAgent: 'UA\ud800',
      context: { k: 'v\ud800' },
    });
    assert.equal(r.counts.failedAttemptsFromIp, 1);
    const stored = (await tg.security.events({ type: 'login_failed', ip: '198.51.100.140' })).items;
    assert.equal(stored.length, 1);
    assert.equal(stored[0]?.username, 'attacker\ufffd');
    assert.equal(stored[0]?.reason, 'invalid\ufffd');
    assert.equal(stored[0]?.userAgent, 'UA\ufffd');
    assert.equal(stored[0]?.context['k'], 'v\ufffd');
    assert.equal(sink.parsed()[0]?.['context'].username, 'attacker\ufffd');
    const ev = await tg.security.log('account_locked', {
      username: 'u\ud800',
      ip: '198.51.100.140',
      reason: 'r\ud800',
    });
    assert.equal(ev.reason, 'r\ufffd');
    assert.equal(
      (await tg.security.events({ type: 'account_locked', ip: '198.51.100.140' })).items.length,
      1,
    );
  });

  it('check() monitors by default: never refuses, but names the patterns', async () => {
    const r = await tg.security.check({ ip: '198.51.100.7', username: 'alice@example.com' });
    assert.equal(r.allowed, true);
    assert.deepEqual(r.reasons, ['brute_force']);
    assert.equal(await tg.security.failedLoginCount('198.51.100.7'), 7);
  });

  it('resetCounters() clears detection state and is itself logged', async () => {
    await tg.security.resetCounters({ ip: '198.51.100.7', by: 'admin-1' });
    assert.equal(await tg.security.failedLoginCount('198.51.100.7'), 0);
    const ev = (await tg.security.events({ type: 'account_unlocked', ip: '198.51.100.7' })).items[0];
    assert.equal(ev?.reason, 'counters_reset');
    assert.equal(ev?.context['by'], 'admin-1');
  });

  it('pages through events with a cursor and filters by category, severity and time', async () => {
    const seen = new Set<string>();
    const order: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Awaited<ReturnType<typeof tg.security.events>> = await tg.security.events({
        limit: 4,
        cursor,
      });
      for (const e of page.items) {
        assert.ok(!seen.has(e.id));
        seen.add(e.id);
        order.push(e.id);
      }
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    assert.ok(pages > 2);
    // Login events (in login rows) and the other events (rows of their own) are read apart and merged:
    // the pages hold exactly the view's rows, newest first, ties broken by id.
    const all = await tg.database.db
      .selectFrom('security_events')
      .select('id')
      .orderBy('occurred_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
    assert.deepEqual(
      order,
      all.map((r) => r.id),
    );
    assert.ok(all.length > 8);
    const crit = await tg.security.events({ severity: 'critical' });
    assert.ok(crit.items.length >= 2 && crit.items.every((e) => e.severity === 'critical'));
    const authz = await tg.security.events({ category: 'authorization' });
    assert.ok(authz.items.every((e) => e.type === 'permission_denied'));
    const none = await tg.security.events({ from: '2030-01-01' });
    assert.equal(none.items.length, 0);
    await assert.rejects(tg.security.events({ cursor: 'garbage' }), fieldOf('cursor'));
  });
});

/** A fake GeoIP database: addresses map to fixed places. */
function fakeGeo(places: Record<string, GeoResult>): GeoLookup {
  return { lookup: (ip) => (ip ? (places[ip] ?? null) : null), sources: { country: 'test', city: 'test' } };
}
const place = (country: string, latitude: number, longitude: number, accuracyKm = 20): GeoResult => ({
  country,
  city: null,
  latitude,
  longitude,
  accuracyKm,
});

forEachBackend('security enforcement and geo signals', (backend) => {
  let tg: Trailguard;
  const clock = manualClock(T0);
  before(async () => {
    tg = await openTrailguard(backend, {
      clock,
      detection: {
        mode: 'enforce',
        bruteForce: { threshold: 3, windowSeconds: 60 },
        impossibleTravel: { maxSpeedKmh: 900 },
      },
      geo: fakeGeo({
        '198.51.100.1': place('DE', 52.52, 13.405), // Berlin
        '198.51.100.2': place('DE', 48.137, 11.575), // Munich
        '198.51.100.3': place('AU', -33.87, 151.21), // Sydney
        '198.51.100.4': { ...place('FR', 48.857, 2.352), city: 'Paris' },
      }),
    });
  });
  after(() => tg.close());

  it('refuses a flagged IP in enforce mode with the seconds until the window releases it', async () => {
    for (let i = 0; i < 3; i++) {
      clock.advance(10_000);
      await tg.security.loginFailed({ username: 'g@example.com', ip: '203.0.113.66' });
    }
    const r = await tg.security.check({ ip: '203.0.113.66', username: 'g@example.com' });
    assert.equal(r.allowed, false);
    assert.deepEqual(r.reasons, ['brute_force']);
    // Failures at +10 s, +20 s, +30 s; now +30 s: the first leaves the 60 s window at +70 s.
    assert.equal(r.retryAfterSeconds, 40);
    assert.equal((await tg.security.check({ ip: '203.0.113.67' })).allowed, true);
    clock.advance(41_000);
    assert.equal((await tg.security.check({ ip: '203.0.113.66' })).allowed, true);
  });

  it('flags a login from a new country and impossible travel between consecutive logins', async () => {
    const emitted: SecurityEvent[] = [];
    const stop = tg.security.onEvent((e) => emitted.push(e));
    const login = (ip: string) =>
      tg.logins.record({ username: 'h@example.com', userId: 'h', success: true, ip });
    await login('198.51.100.1'); // Berlin: first login, nothing to compare
    clock.advance(3 * 3600_000);
    await login('198.51.100.2'); // Munich, 3 h later: ~500 km, same country
    clock.advance(3600_000);
    await login('198.51.100.3'); // Sydney, 1 h later: new country and impossible
    clock.advance(30 * 86_400_000);
    await login('198.51.100.4'); // Paris a month later: new country, plausible speed
    const events = (await tg.security.events({ userId: 'h', type: 'login_success' })).items.reverse();
    const patterns = events.map((e) =>
      ((e.context['signals'] as { pattern: string }[] | undefined) ?? []).map((s) => s.pattern).join(','),
    );
    assert.deepEqual(patterns, ['', '', 'new_country,impossible_travel', 'new_country']);
    assert.deepEqual(
      events.map((e) => e.severity),
      ['info', 'info', 'warning', 'warning'],
    );
    const alerts = await tg.security.events({ type: 'suspicious_activity', userId: 'h' });
    assert.equal(alerts.items.length, 1);
    assert.equal(alerts.items[0]?.context['pattern'], 'impossible_travel');
    // A login event is stored in its login row; read back, it is the event that was emitted, whole.
    stop();
    assert.equal(events[3]?.context['city'], 'Paris');
    for (const e of [...events, ...alerts.items]) {
      assert.deepEqual(
        e,
        emitted.find((x) => x.id === e.id),
      );
    }
  });
});

describe('security with Redis', { skip: REDIS_SKIP }, () => {
  it('shares detection state between two instances through Redis', async () => {
    const keyPrefix = `tgtest:${randomBytes(5).toString('hex')}:`;
    const options = {
      redisUrl: TEST_REDIS_URL,
      detection: { keyPrefix, accountKeySecret: 'a-shared-secret-of-32-characters' },
    };
    const a = await openTrailguard('pglite', options);
    const b = await openTrailguard('pglite', options);
    try {
      for (let i = 0; i < 3; i++)
        await a.security.loginFailed({ username: 'i@example.com', ip: '203.0.113.77' });
      for (let i = 0; i < 2; i++)
        await b.security.loginFailed({ username: 'i@example.com', ip: '203.0.113.77' });
      assert.equal(await b.security.failedLoginCount('203.0.113.77'), 5);
      assert.equal(await a.security.isSuspicious({ ip: '203.0.113.77' }), true);
      await a.security.resetCounters({ ip: '203.0.113.77', username: 'i@example.com' });
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('detection configuration', () => {
  it('validates the detection option and names the field', () => {
    const bad: [unknown, string][] = [
      [{ bruteForce: { threshold: 0 } }, 'detection.bruteForce.threshold'],
      [{ distributedAttack: { windowSeconds: 'soon' } }, 'detection.distributedAttack.windowSeconds'],
      [{ accountEnumeration: { threshold: 500 } }, 'detection.accountEnumeration.threshold'],
      [{ mode: 'block' }, 'detection.mode'],
      [{ brutforce: {} }, 'detection.brutforce'],
      [{ bruteForce: { threshold: 100 }, maxEntriesPerKey: 50 }, 'detection.bruteForce.threshold'],
    ];
    for (const [detection, field] of bad) {
      assert.throws(
        () => resolveConfig({ dataDir: 'memory://', detection: detection as Record<string, unknown> }, {}),
        (e: { code?: string; field?: string }) => e.code === 'CONFIG_INVALID' && e.field === field,
        field,
      );
    }
    const ok = resolveConfig({ dataDir: 'memory://' }, {});
    assert.deepEqual(
      [ok.detection.bruteForce, ok.detection.distributedAttack, ok.detection.accountEnumeration],
      [
        { threshold: 5, windowSeconds: 900 },
        { threshold: 10, windowSeconds: 1800 },
        { threshold: 20, windowSeconds: 600 },
      ],
    );
    assert.equal(resolveConfig({}, { REDIS_URL: 'redis://example:6379' }).redisUrl, 'redis://example:6379');
  });
});
