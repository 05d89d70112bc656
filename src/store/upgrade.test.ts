import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { createTestDatabase, forEachBackend } from '../../test/helpers/backends.ts';
import { createTrailguard } from '../trailguard.ts';
import { openDatabase } from './database.ts';
import { migrateTo } from './migrator.ts';
import { createPartitionManager } from './partitions.ts';
import type { PartitionedTable } from './partitions.ts';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const HOUR = 3_600_000;

// A database written by the release before migrations 0007 (rollup shards, security_events key and
// partial indexes), 0008 (daily rollup) and 0009 (login events stored in their login rows) must come up
// with every row, count and event, each event once.
forEachBackend('upgrade from migration 0006', (backend) => {
  let where: { databaseUrl: string } | { dataDir: string };
  let cleanup: () => Promise<void>;
  const now = new Date();
  const logins = Array.from({ length: 60 }, (_, i) => ({
    id: `0190a0b0-0000-7000-8000-${String(i).padStart(12, '0')}`,
    username: `u${i % 4}@example.test`,
    success: i % 3 !== 0,
    at: new Date(Math.floor(now.getTime() / HOUR) * HOUR - i * 7 * HOUR + 60_000),
  }));

  before(async () => {
    if (backend === 'postgres') {
      const db = await createTestDatabase();
      where = { databaseUrl: db.url };
      cleanup = () => db.drop();
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'tg-upgrade-'));
      where = { dataDir: join(dir, 'db') };
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
    }
    // Bring the schema to 0006 and write rows the way that release did.
    const old = await openDatabase({ ...where, migrate: false });
    try {
      await migrateTo(old.db, '0006-change-history-pseudonymise');
      const partitions = createPartitionManager(old.db);
      await partitions.ensure(
        'login_history',
        logins.map((l) => l.at),
      );
      // Before 0009 the events' own table was called security_events.
      await partitions.ensure(
        'security_events' as PartitionedTable,
        logins.map((l) => l.at),
      );
      for (const l of logins) {
        await sql`INSERT INTO login_history (id, username, login_type, success, ip_address, device_type, login_at)
          VALUES (${l.id}, ${l.username}, 'password', ${l.success}, '198.51.100.1', 'desktop', ${l.at})`.execute(
          old.db,
        );
        await sql`INSERT INTO login_rollup_hourly AS r (hour, success, login_type, device_type, country, count)
          VALUES (date_trunc('hour', ${l.at}::timestamptz, 'UTC'), ${l.success}, 'password', 'desktop', '', 1)
          ON CONFLICT (hour, success, login_type, device_type, country) DO UPDATE SET count = r.count + 1`.execute(
          old.db,
        );
        await sql`INSERT INTO security_events (id, event_type, category, severity, occurred_at, username)
          VALUES (${l.id}, ${l.success ? 'login_success' : 'login_failed'}, 'authentication',
            ${l.success ? 'info' : 'warning'}, ${l.at}, ${l.username})`.execute(old.db);
      }
    } finally {
      await old.close();
    }
  });
  after(async () => {
    await cleanup?.();
  });

  it('migrates to the latest schema keeping every row, count and event', async () => {
    const tg = await createTrailguard({
      ...where,
      logger: quiet,
      securityLog: { enabled: false },
      geo: false,
    });
    try {
      const from = new Date(now.getTime() - 30 * 24 * HOUR);
      const stats = await tg.logins.stats({ from });
      assert.equal(stats.total, logins.length);
      assert.equal(stats.success, logins.filter((l) => l.success).length);
      const listed = await tg.logins.list({ limit: 1000 });
      assert.equal(listed.items.length, logins.length);
      const failed = await tg.security.events({ type: 'login_failed', limit: 1000 });
      assert.equal(failed.items.length, logins.filter((l) => !l.success).length);
      // Writes after the upgrade add to the same counts.
      await tg.logins.record({ username: 'after@example.test', success: false, ip: '198.51.100.2' });
      const after = await tg.logins.stats({ from });
      assert.equal(after.total, logins.length + 1);
      assert.equal(after.failure, logins.filter((l) => !l.success).length + 1);
      const failedAfter = await tg.security.events({ type: 'login_failed', limit: 1000 });
      assert.equal(failedAfter.items.length, logins.filter((l) => !l.success).length + 1);
      assert.equal(failedAfter.items[0]?.username, 'after@example.test');
      const all = await tg.security.events({ limit: 1000 });
      assert.equal(new Set(all.items.map((e) => e.id)).size, all.items.length, 'an event listed twice');
      // The old events' partitions moved with their table.
      const parents = await sql<{ parent: string; name: string }>`
        SELECT parent, name FROM trailguard_partition WHERE name LIKE 'security_event%'`.execute(
        tg.database.db,
      );
      assert.ok(parents.rows.length > 0);
      for (const r of parents.rows) {
        assert.equal(r.parent, 'security_event_rows');
        assert.match(r.name, /^security_event_rows_p\d{4}_\d{2}$/);
      }
    } finally {
      await tg.close();
    }
  });
});
