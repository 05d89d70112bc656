/**
 * `trailguard serve`: the REST API, ingestion, /docs, /metrics and the admin UI, on the embedded
 * database by default. Prints the admin URL and, on first run, an admin credential.
 * @module
 */
import type { Command } from 'commander';
import { sql } from 'kysely';
import { createAuthService } from '../auth/auth-service.ts';
import { createServer } from '../http/server.ts';
import { startRetentionSchedule } from '../retention/retention-schedule.ts';
import { startChangeChecks } from '../alerts/change-check-schedule.ts';
import { defaultLogger } from '../trailguard.ts';
import type { Trailguard } from '../trailguard.ts';
import { resolveConfig } from '../config.ts';
import { cliOptions, openFromCli } from './context.ts';
import { holdAlertLines } from './held-alerts-logger.ts';
import { recordDemoAttacks, recordDemoChanges, recordDemoLogins } from './demo.ts';

/** How often `trailguard serve` seals when `integrity.sealIntervalSeconds` is not configured. */
export const DEFAULT_SERVER_SEAL_INTERVAL_SECONDS = 600;

interface ServeOptions {
  port: string;
  host: string;
  demo?: boolean;
  rateLimitKey?: string;
  rateLimitIp?: string;
  idempotencyLease?: string;
  log?: boolean;
  metricsPort?: string;
  metricsHost: string;
}

/** Seeds a month of demo data, only into an empty database. Returns false when it was not empty. */
export async function seedDemo(tg: Trailguard, out: { write(s: string): unknown }): Promise<boolean> {
  const existing = await sql<{ one: number }>`SELECT 1 AS one FROM login_history LIMIT 1`.execute(
    tg.database.db,
  );
  if (existing.rows.length > 0) {
    out.write('--demo: the database already holds data; no demo data was added.\n');
    return false;
  }
  const now = tg.config.clock.now();
  const started = performance.now();
  const logins = await recordDemoLogins(tg, now, 30);
  const attacks = await recordDemoAttacks(tg, now);
  const changes = await recordDemoChanges(tg, now);
  await tg.logins.flush();
  out.write(
    `--demo: recorded ${logins + attacks} login attempts (a brute force, a distributed attack and an account enumeration among them) and ${changes} production changes over 30 days in ${Math.round(performance.now() - started)} ms.\n`,
  );
  return true;
}

function parsePort(value: string, name = '--port'): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535)
    throw new Error(`${name} must be 0–65535, got ${value}`);
  return n;
}

function parseRate(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a whole number ≥ 1, got ${value}`);
  return n;
}

function parseLease(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 1 || n > 3600)
    throw new Error(`--idempotency-lease must be 1 to 3600 seconds, got ${value}`);
  return n * 1000;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the Trailguard server: REST API, ingestion, admin UI, /docs and /metrics')
    .option('--port <port>', 'port to listen on (env PORT)', process.env['PORT'] ?? '8080')
    .option('--host <host>', 'address to bind (env HOST)', process.env['HOST'] ?? '127.0.0.1')
    .option('--demo', 'seed a realistic month of demo data into an empty database')
    .option('--rate-limit-key <n>', 'requests per minute per API key or session (default 60000)')
    .option('--rate-limit-ip <n>', 'requests per minute per address without credentials (default 300)')
    .option(
      '--idempotency-lease <seconds>',
      'how long a running request holds its Idempotency-Key unrenewed; after a crash a retry takes the key over then (default 30)',
    )
    .option('--log', 'log every request as JSON to stdout (failures are logged without it)')
    .option(
      '--metrics-port <port>',
      'also serve /metrics without credentials on this port (env TRAILGUARD_METRICS_PORT)',
      process.env['TRAILGUARD_METRICS_PORT'],
    )
    .option(
      '--metrics-host <host>',
      'address of the --metrics-port listener (env TRAILGUARD_METRICS_HOST)',
      process.env['TRAILGUARD_METRICS_HOST'] ?? '127.0.0.1',
    )
    .action(async (opts: ServeOptions, cmd: Command) => {
      const port = parsePort(opts.port);
      const metricsPort =
        opts.metricsPort === undefined ? undefined : parsePort(opts.metricsPort, '--metrics-port');
      const out = process.stdout;
      const held = opts.demo ? holdAlertLines(defaultLogger()) : null;
      if (opts.demo) {
        // Seeded through its own instance with the event log off: a month of demo events would bury
        // the admin URL printed below. The events themselves are stored as usual.
        const seeder = await openFromCli(cmd, {
          securityLog: { enabled: false },
          ...(held ? { logger: held } : {}),
        });
        try {
          await seedDemo(seeder, out);
        } finally {
          await seeder.close();
        }
      }
      // The server ingests events for remote applications: the caller's stack is the route handler,
      // so lines carry no location unless the configuration asks for one.
      const configured = resolveConfig(cliOptions(cmd)).securityLog;
      const tg = await openFromCli(cmd, {
        securityLog: { location: false, ...configured },
        ...(held ? { logger: held } : {}),
      });
      let app: Awaited<ReturnType<typeof createServer>> | null = null;
      let firstRun: { username: string; password: string } | null = null;
      try {
        const auth = createAuthService({ db: tg.database.db, clock: tg.config.clock });
        if ((await auth.users.count()) === 0) {
          const created = await auth.users.create({ username: 'admin' }).catch(() => null);
          if (created?.password) firstRun = { username: created.user.username, password: created.password };
        }
        app = await createServer(tg, {
          auth,
          // Without --log only failures are logged: the cause of every 5xx (never the body) on stdout.
          logger: { level: opts.log ? 'info' : 'error' },
          idempotencyLeaseMs: parseLease(opts.idempotencyLease),
          rateLimit: {
            perKey: parseRate(opts.rateLimitKey, '--rate-limit-key'),
            perIp: parseRate(opts.rateLimitIp, '--rate-limit-ip'),
          },
          ...(metricsPort === undefined
            ? {}
            : { metricsListener: { port: metricsPort, host: opts.metricsHost } }),
        });
        await app.listen({ port, host: opts.host });
      } catch (err) {
        await app?.close().catch(() => undefined);
        await tg.close();
        throw err;
      }
      const retentionSchedule = startRetentionSchedule(tg.retention, tg.internals.logger);
      const changeChecks = startChangeChecks(tg.alerts, tg.internals.logger);
      // The server seals the trail every 10 minutes unless integrity.sealIntervalSeconds says otherwise
      // (a number already started sealing in createTrailguard; false turns it off).
      if (tg.config.integrity.sealIntervalSeconds === undefined)
        tg.internals.startSealing(DEFAULT_SERVER_SEAL_INTERVAL_SECONDS);
      const address = app.server.address();
      const actualPort = typeof address === 'object' && address ? address.port : port;
      const shownHost = opts.host === '0.0.0.0' || opts.host === '::' ? 'localhost' : opts.host;
      const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${actualPort}`;
      out.write(
        `\nTrailguard ${tg.database.backend === 'pglite' ? `(embedded database at ${tg.database.location})` : `(PostgreSQL ${tg.database.location})`}\n`,
      );
      out.write(
        `  Admin:   ${url}/\n  API:     ${url}/api/v1\n  Docs:    ${url}/docs\n  Health:  ${url}/healthz\n`,
      );
      const internal = app.trailguardMetricsListener?.address();
      if (internal) {
        const h = internal.address.includes(':') ? `[${internal.address}]` : internal.address;
        out.write(`  Metrics: http://${h}:${internal.port}/metrics (no credentials)\n`);
      }
      const summary = held?.release();
      if (summary) out.write(`\n--demo: ${summary}\n`);
      if (firstRun) {
        out.write(
          `\nFirst run: an admin user was created.\n  username: ${firstRun.username}\n  password: ${firstRun.password}\n` +
            '  (shown once; change it with "trailguard users set-password admin" while the server is stopped)\n',
        );
      }
      out.write(
        tg.database.backend === 'pglite'
          ? // The embedded database is single-process: while the server runs, the CLI cannot open it.
            `\nCreate an API key as admin: POST ${url}/api/v1/keys {"name":"my-service","scope":"ingest"}\n` +
              '  (or stop the server and run: trailguard keys create --name my-service --scope ingest)\n'
          : '\nCreate an API key with: trailguard keys create --name my-service --scope ingest\n',
      );

      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        out.write(`\n${signal}: stopping (finishing in-flight requests, committing pending writes)…\n`);
        const current = app;
        retentionSchedule.stop();
        changeChecks.stop();
        void (async () => {
          try {
            await current?.close();
          } finally {
            await tg.close();
          }
          out.write('stopped\n');
          process.exit(0);
        })().catch((err: unknown) => {
          process.stderr.write(`trailguard: shutdown failed: ${(err as Error).message}\n`);
          process.exit(1);
        });
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
}
