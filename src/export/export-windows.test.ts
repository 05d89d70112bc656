// Export windows hold the events whose own time falls in them: a login at login_at, its logout at
// logout_at. Consecutive windows together export every event exactly once, in event-time order.
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../cli/program.ts';
import { createTrailguard } from '../trailguard.ts';
import { forEachBackend, openTrailguard } from '../../test/helpers/backends.ts';
import type { Trailguard } from '../trailguard.ts';
import type { ExportFormat, ExportOptions } from './export-service.ts';

const FORMATS: ExportFormat[] = ['jsonl', 'csv', 'ocsf', 'ecs'];

/** The event a line stands for, as `<login id>:<login|logout>@<epoch ms>`, whatever the format. */
function eventKey(format: ExportFormat, line: string): string {
  if (format === 'csv') {
    // id, login_at, … logout_at (15), … event (last): no field of these logins holds a comma.
    const f = line.split(',');
    const event = f.at(-1)!;
    return `${f[0]}:${event}@${Date.parse(event === 'login' ? f[1]! : f[15]!)}`;
  }
  if (format === 'jsonl') {
    const r = JSON.parse(line) as { id: string; event: string; loginAt: string; logoutAt: string };
    return `${r.id}:${r.event}@${Date.parse(r.event === 'login' ? r.loginAt : r.logoutAt)}`;
  }
  const d = JSON.parse(line) as Record<string, unknown> & {
    event?: Record<string, unknown>;
    metadata?: { uid: string };
  };
  if (format === 'ocsf') {
    const [id, logoff] = d.metadata!.uid.split(':');
    return `${id}:${logoff ? 'logout' : 'login'}@${String(d['time'])}`;
  }
  const [id, logout] = String(d.event!['id']).split(':');
  return `${id}:${logout ? 'logout' : 'login'}@${Date.parse(String(d['@timestamp']))}`;
}

forEachBackend('SIEM export windows', (backend) => {
  let tg: Trailguard;

  before(async () => {
    tg = await openTrailguard(backend, { geo: false, alerts: { delivery: { enabled: false } } });
  });
  after(() => tg.close());

  async function lines(options: ExportOptions): Promise<string[]> {
    const out: string[] = [];
    for await (const line of tg.export.lines(options)) out.push(line);
    return out;
  }
  const body = async (options: ExportOptions) =>
    (await lines(options)).slice(options.format === 'csv' ? 1 : 0).map((l) => l.replace(/\r?\n$/, ''));

  it('exports a logout in the window of its own time, after a window that held only its login', async () => {
    const t = (h: number, m: number) => new Date(Date.UTC(2026, 0, 5, h, m));
    await tg.logins.record({
      username: 'erin',
      userId: 'erin',
      success: true,
      ip: '198.51.100.5',
      sessionKey: 's1',
      occurredAt: t(10, 0),
    });
    await tg.logins.record({
      username: 'fred',
      userId: 'fred',
      success: true,
      ip: '198.51.100.6',
      occurredAt: t(10, 1),
    });

    // The scheduled export at 11:01, before erin logs out.
    const first = { from: t(10, 0), to: t(11, 0) };
    const before11 = new Map<ExportFormat, string[]>();
    for (const format of FORMATS) before11.set(format, await lines({ table: 'logins', format, ...first }));
    const ocsf = before11
      .get('ocsf')!
      .map((l) => JSON.parse(l) as { activity_name: string; user: { name: string } });
    assert.deepEqual(
      ocsf.map((e) => `${e.activity_name} ${e.user.name}`),
      ['Logon erin', 'Logon fred'],
    );

    await tg.logins.recordLogout({ userId: 'erin', sessionKey: 's1', occurredAt: t(12, 1) });

    // The next window holds erin's Logoff, though her login row is of the window before.
    const next = (await lines({ table: 'logins', format: 'ocsf', from: t(11, 0), to: t(13, 0) })).map(
      (l) =>
        JSON.parse(l) as { activity_name: string; user: { name: string }; time: number; duration: number },
    );
    assert.deepEqual(
      next.map((e) => `${e.activity_name} ${e.user.name} ${new Date(e.time).toISOString()}`),
      [`Logoff erin ${t(12, 1).toISOString()}`],
    );
    assert.equal(next[0]!.duration, 121 * 60_000);

    // A window already exported says the same when exported again after the logout, in every format:
    // the login line does not take the later logout in.
    for (const format of FORMATS) {
      assert.deepEqual(await lines({ table: 'logins', format, ...first }), before11.get(format), format);
    }

    // Oldest first across both kinds of event.
    const ecs = (await lines({ table: 'logins', format: 'ecs', from: t(0, 0), to: t(23, 0) })).map(
      (l) => JSON.parse(l) as { '@timestamp': string; event: { action: string }; user: { name: string } },
    );
    assert.deepEqual(
      ecs.map((d) => `${d.event.action} ${d.user.name} ${d['@timestamp'].slice(11, 16)}`),
      ['user-login erin 10:00', 'user-login fred 10:01', 'user-logout erin 12:01'],
    );
    const jsonl = (await body({ table: 'logins', format: 'jsonl', from: t(0, 0), to: t(23, 0) })).map(
      (l) => JSON.parse(l) as { event: string; username: string; logoutAt: string | null },
    );
    assert.deepEqual(
      jsonl.map((r) => `${r.event} ${r.username} ${r.logoutAt ?? '-'}`),
      ['login erin -', 'login fred -', `logout erin ${t(12, 1).toISOString()}`],
    );
    const csv = await lines({ table: 'logins', format: 'csv', from: t(11, 0), to: t(13, 0) });
    assert.match(csv[0]!, /,logout_at,session_duration_seconds,metadata,event\r\n$/);
    assert.equal(csv.length, 2);
    assert.match(csv[1]!, new RegExp(`,${t(12, 1).toISOString()},7260,\\{\\},logout\\r\\n$`));
  });

  it('exports every event exactly once over consecutive windows, in event-time order, on every format and page size', async () => {
    // Logins over three months (three partitions), sessions from zero length to ~40 days, so logouts land
    // in later windows and later months than their logins; equal times, to exercise the tie-break.
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const start = Date.UTC(2026, 1, 1);
    const day = 86_400_000;
    const logins: { user: string; key: string; at: number; logoutAt: number | null; success: boolean }[] = [];
    for (let i = 0; i < 40; i++) {
      const at =
        i % 8 === 3
          ? logins[i - 1]!.at
          : start + Math.floor(rand() * 60) * day + Math.floor(rand() * 24) * 3_600_000;
      const success = i % 5 !== 4;
      const r = rand();
      const logoutAt = !success || r < 0.2 ? null : r < 0.3 ? at : at + Math.floor(rand() * 40 * day);
      logins.push({ user: `w${i}`, key: `k${i}`, at, logoutAt, success });
    }
    for (const l of logins) {
      await tg.logins.record({
        username: l.user,
        userId: l.user,
        success: l.success,
        ip: '203.0.113.9',
        sessionKey: l.key,
        occurredAt: new Date(l.at),
      });
    }
    for (const l of logins.filter((x) => x.logoutAt !== null)) {
      const closed = await tg.logins.recordLogout({
        userId: l.user,
        sessionKey: l.key,
        occurredAt: new Date(l.logoutAt!),
      });
      assert.ok(closed, l.user);
    }
    // Every event stored (this suite's earlier logins too), by time.
    const stored = await tg.database.db
      .selectFrom('login_history')
      .select(['login_at', 'logout_at'])
      .execute();
    assert.equal(stored.length, logins.length + 2);
    const expectedTimes = stored
      .flatMap((r) => (r.logout_at === null ? [r.login_at] : [r.login_at, r.logout_at]))
      .map((d) => new Date(d).getTime())
      .sort((a, b) => a - b);
    assert.ok(
      logins.some(
        (l) => l.logoutAt !== null && new Date(l.logoutAt).getUTCMonth() !== new Date(l.at).getUTCMonth(),
      ),
    );

    // Boundaries every 9 days over the three months and after; the first and last window open.
    const bounds: Date[] = [];
    for (let b = start + 5 * day; b < start + 110 * day; b += 9 * day) bounds.push(new Date(b));
    const windows: { from?: Date; to?: Date }[] = [
      { to: bounds[0]! },
      ...bounds.slice(1).map((to, i) => ({ from: bounds[i]!, to })),
      { from: bounds.at(-1)! },
    ];
    for (const format of FORMATS) {
      for (const pageSize of [3, 2000]) {
        const whole = await body({ table: 'logins', format, pageSize });
        const keys = whole.map((l) => eventKey(format, l));
        assert.equal(new Set(keys).size, keys.length, `${format}: an event exported twice`);
        const times = keys.map((k) => Number(k.split('@')[1]));
        assert.deepEqual(times, expectedTimes, `${format}/${pageSize}: not every event, or not oldest first`);
        // Within a time, by login id, and a login before its own logout.
        for (let i = 1; i < keys.length; i++) {
          const [a, b] = [keys[i - 1]!, keys[i]!];
          if (times[i - 1] === times[i])
            assert.ok(a.split(':')[0]! <= b.split(':')[0]!, `${format}: tie order ${a} ${b}`);
        }
        const pieces: string[] = [];
        for (const w of windows) pieces.push(...(await body({ table: 'logins', format, pageSize, ...w })));
        assert.deepEqual(pieces, whole, `${format}/${pageSize}: windows do not add up to the whole`);
      }
    }
    // Zero-length sessions: the login line before the logout line.
    const jsonl = (await body({ table: 'logins', format: 'jsonl' })).map(
      (l) => JSON.parse(l) as { id: string; event: string; loginAt: string; logoutAt: string | null },
    );
    const zero = jsonl.filter((r) => r.event === 'logout' && r.logoutAt === r.loginAt);
    assert.ok(zero.length > 0);
    for (const z of zero) {
      const i = jsonl.findIndex((r) => r.id === z.id && r.event === 'login');
      assert.equal(jsonl[i + 1]?.id, z.id);
    }
  });

  it(
    'gives `trailguard export --from --to` the logout of a session opened before the window',
    { skip: backend !== 'pglite' },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tg-export-window-cli-'));
      try {
        const quiet = { debug() {}, info() {}, warn() {}, error() {} };
        const local = await createTrailguard({
          dataDir: join(dir, 'db'),
          logger: quiet,
          securityLog: { enabled: false },
          geo: false,
          alerts: { delivery: { enabled: false } },
        });
        try {
          await local.logins.record({
            username: 'erin',
            userId: 'erin',
            success: true,
            sessionKey: 's1',
            occurredAt: '2026-01-05T10:00:00Z',
          });
          await local.logins.recordLogout({
            userId: 'erin',
            sessionKey: 's1',
            occurredAt: '2026-01-05T12:01:00Z',
          });
        } finally {
          await local.close();
        }
        const out = join(dir, 'logins.ecs.jsonl');
        await buildProgram().parseAsync(
          [
            '--data-dir',
            join(dir, 'db'),
            'export',
            '--table',
            'logins',
            '--format',
            'ecs',
            '--from',
            '2026-01-05T11:00:00Z',
            '--to',
            '2026-01-05T13:00:00Z',
            '--out',
            out,
          ],
          { from: 'user' },
        );
        const docs = readFileSync(out, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { '@timestamp': string; event: { action: string } });
        assert.deepEqual(
          docs.map((d) => `${d.event.action} ${d['@timestamp']}`),
          ['user-logout 2026-01-05T12:01:00.000Z'],
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
