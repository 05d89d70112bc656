import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { forEachBackend, openTrailguard } from '../../test/helpers/backends.ts';
import type { Trailguard } from '../trailguard.ts';
import type { ExportOptions } from './export-service.ts';
import { buildProgram } from '../cli/program.ts';

/** Reads a dotted path out of parsed JSON. */
function dig(value: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], value);
}

forEachBackend('SIEM export of logins', (backend) => {
  let tg: Trailguard;
  const at = (m: number) => new Date(Date.UTC(2026, 2, 1, 10, m));

  before(async () => {
    tg = await openTrailguard(backend, { alerts: { delivery: { enabled: false } } });
    await tg.logins.record({
      username: 'ann',
      userId: 1,
      success: true,
      ip: '8.8.8.8',
      userAgent:
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
      sessionKey: 's1',
      occurredAt: at(0),
    });
    await tg.logins.recordLogout({ userId: 1, sessionKey: 's1', occurredAt: at(30) });
    await tg.logins.record({
      username: '=HYPERLINK("http://x","y")',
      success: false,
      failureReason: 'bad, "quoted"',
      ip: '198.51.100.1',
      occurredAt: at(1),
    });
    for (const m of [2, 3, 4])
      await tg.logins.record({
        username: `u${m}`,
        success: m % 2 === 0,
        ip: '198.51.100.2',
        occurredAt: at(m),
      });
    await tg.logins.record({ username: 'later', success: true, ip: '198.51.100.3', occurredAt: at(50) });
  });
  after(() => tg.close());

  async function run(options: ExportOptions): Promise<string[]> {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    await tg.export.write(options, out);
    return Buffer.concat(chunks).toString('utf8').split(/\r?\n/).filter(Boolean);
  }

  it('streams every event once, oldest first, across page boundaries', async () => {
    const lines = await run({ table: 'logins', format: 'jsonl', pageSize: 2 });
    const events = lines.map((l) => {
      const r = JSON.parse(l) as { event: string; username: string };
      return `${r.event} ${r.username}`;
    });
    // ann's logout (10:30) comes at its own time, after the logins of 10:01–10:04.
    assert.deepEqual(events, [
      'login ann',
      'login =HYPERLINK("http://x","y")',
      'login u2',
      'login u3',
      'login u4',
      'logout ann',
      'login later',
    ]);
  });

  it('honours from (inclusive) and to (exclusive)', async () => {
    const lines = await run({ table: 'logins', format: 'jsonl', from: at(2), to: at(4) });
    assert.deepEqual(
      lines.map((l) => (JSON.parse(l) as { username: string }).username),
      ['u2', 'u3'],
    );
  });

  it('writes CSV with a header, quoting, and formulas defused', async () => {
    const lines = await run({ table: 'logins', format: 'csv', to: at(2) });
    assert.match(lines[0]!, /^id,login_at,user_id,username,login_type,success,failure_reason,ip_address/);
    assert.match(lines[0]!, /,logout_at,session_duration_seconds,metadata,event$/);
    assert.equal(lines.length, 3);
    // ann's login line: her logout (10:30) is after this window, and is the logout line's to tell.
    assert.match(lines[1]!, /,,,\{\},login$/);
    assert.ok(lines[2]!.includes(`"'=HYPERLINK(""http://x"",""y"")"`));
    assert.ok(lines[2]!.includes('"bad, ""quoted"""'));
  });

  it('maps logins to OCSF Authentication (3002): Logon with status, and Logoff for a closed session', async () => {
    const events = (await run({ table: 'logins', format: 'ocsf', to: at(31) })).map(
      (l) => JSON.parse(l) as unknown,
    );
    assert.equal(events.length, 6);
    const [logon, failed] = events;
    const logoff = events.at(-1);
    assert.deepEqual(
      events.map((e) => dig(e, 'time')),
      [at(0), at(1), at(2), at(3), at(4), at(30)].map((d) => d.getTime()),
    );
    assert.equal(dig(logon, 'class_uid'), 3002);
    assert.equal(dig(logon, 'category_uid'), 3);
    assert.equal(dig(logon, 'activity_id'), 1);
    assert.equal(dig(logon, 'type_uid'), 300201);
    assert.equal(dig(logon, 'status_id'), 1);
    assert.equal(dig(logon, 'user.name'), 'ann');
    assert.equal(dig(logon, 'src_endpoint.ip'), '8.8.8.8');
    assert.equal(dig(logon, 'src_endpoint.location.country'), 'US');
    assert.equal(dig(logon, 'time'), at(0).getTime());
    assert.equal(dig(logoff, 'activity_id'), 2);
    assert.equal(dig(logoff, 'type_uid'), 300202);
    assert.equal(dig(logoff, 'duration'), 30 * 60_000);
    assert.equal(dig(logoff, 'metadata.uid'), `${String(dig(logon, 'metadata.uid'))}:logoff`);
    assert.equal(dig(failed, 'status'), 'Failure');
    assert.equal(dig(failed, 'status_id'), 2);
    assert.equal(dig(failed, 'status_detail'), 'bad, "quoted"');
    assert.equal(dig(logon, 'metadata.version'), '1.3.0');
  });

  it('maps logins to ECS: authentication category, outcome, source ip and geo, user, user agent', async () => {
    const docs = (await run({ table: 'logins', format: 'ecs', to: at(31) })).map(
      (l) => JSON.parse(l) as unknown,
    );
    const [login, failed] = docs;
    const logout = docs.at(-1);
    assert.deepEqual(dig(login, 'event.category'), ['authentication']);
    assert.equal(dig(login, 'event.outcome'), 'success');
    assert.equal(dig(login, 'source.ip'), '8.8.8.8');
    assert.equal(dig(login, 'source.geo.country_iso_code'), 'US');
    assert.equal(dig(login, 'user.name'), 'ann');
    assert.match(String(dig(login, 'user_agent.original')), /Chrome\/120/);
    assert.equal(dig(login, '@timestamp'), at(0).toISOString());
    assert.deepEqual(dig(logout, 'event.type'), ['end']);
    assert.equal(dig(logout, '@timestamp'), at(30).toISOString());
    assert.equal(dig(failed, 'event.outcome'), 'failure');
    assert.equal(dig(failed, 'event.reason'), 'bad, "quoted"');
  });

  it('rejects an unknown format or a reversed range before writing anything', async () => {
    await assert.rejects(run({ table: 'logins', format: 'xml' as never }), {
      code: 'VALIDATION_FAILED',
      field: 'format',
    });
    await assert.rejects(run({ table: 'logins', format: 'csv', from: at(5), to: at(1) }), { field: 'to' });
  });

  it(
    'runs as `trailguard export` from the command line into a file',
    { skip: backend !== 'pglite' },
    async () => {
      // The CLI opens its own database; give it a fresh embedded one and check it writes a valid (empty) export.
      const dir = mkdtempSync(join(tmpdir(), 'tg-export-cli-'));
      try {
        const out = join(dir, 'logins.ocsf.jsonl');
        await buildProgram().parseAsync(
          ['--data-dir', join(dir, 'db'), 'export', '--table', 'logins', '--format', 'ocsf', '--out', out],
          { from: 'user' },
        );
        assert.equal(readFileSync(out, 'utf8'), '');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
