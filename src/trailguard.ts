/**
 * `createTrailguard()`: wires configuration to stores and services. The library's entry point.
 * @module
 */
import pino from 'pino';
import { resolveConfig } from './config.ts';
import type { Logger, ResolvedConfig, TrailguardOptions } from './config.ts';
import { createChangeRepository } from './changes/change-repository.ts';
import { createChangeService } from './changes/change-service.ts';
import type { ChangeService } from './changes/change-service.ts';
import { createEnricher } from './enrich/enricher.ts';
import type { Enricher } from './enrich/enricher.ts';
import { createGeoLookup } from './enrich/geo.ts';
import { createLoginRepository } from './logins/login-repository.ts';
import { createLoginService } from './logins/login-service.ts';
import { createLoginStatsRepository } from './logins/login-stats-repository.ts';
import type { LoginService } from './logins/login-service.ts';
import { openDatabase } from './store/database.ts';
import type { DatabaseHandle } from './store/database.ts';
import { createPartitionManager } from './store/partitions.ts';
import type { PartitionManager } from './store/partitions.ts';

/** A running Trailguard instance. */
export interface Trailguard {
  /** Login history. */
  readonly logins: LoginService;
  /** The production change log. */
  readonly changes: ChangeService;
  /** The resolved configuration (secrets redacted in `database.location`). */
  readonly config: Readonly<ResolvedConfig>;
  /** The open database (for the server, CLI and tests; applications should not need it). */
  readonly database: DatabaseHandle;
  /** Shared internals for the server and CLI. */
  readonly internals: {
    enricher: Enricher;
    partitions: PartitionManager;
    logger: Logger;
  };
  /** Commits pending writes and closes the database. Safe to call twice. */
  close(): Promise<void>;
}

function defaultLogger(): Logger {
  return pino(
    { name: 'trailguard', level: process.env['TRAILGUARD_LOG_LEVEL'] ?? 'warn' },
    pino.destination(2),
  );
}

/**
 * Opens the database (applying migrations), loads enrichment data and returns the services.
 * @example
 * const tg = await createTrailguard();                       // embedded, ./.trailguard/db
 * const tg = await createTrailguard({ databaseUrl: process.env.DATABASE_URL, trustProxy: 'loopback' });
 */
export async function createTrailguard(options: TrailguardOptions = {}): Promise<Trailguard> {
  const config = resolveConfig(options);
  const logger = config.logger ?? defaultLogger();
  const geo = await createGeoLookup(config.geo);
  const enricher = createEnricher({ trustProxy: config.trustProxy, geo });
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    migrate: config.migrate,
    poolSize: config.poolSize,
  });
  const partitions = createPartitionManager(database.db);
  try {
    await partitions.prepare('login_history', config.clock.now());
  } catch (err) {
    await database.close();
    throw err;
  }
  const logins = createLoginService({
    repository: createLoginRepository(database.db),
    stats: createLoginStatsRepository(database.db),
    partitions,
    enricher,
    clock: config.clock,
    maxInFlight: database.maxConcurrentWrites,
  });
  const changes = createChangeService({
    repository: createChangeRepository(database.db),
    clock: config.clock,
  });

  let closing: Promise<void> | null = null;
  return {
    logins,
    changes,
    config,
    database,
    internals: { enricher, partitions, logger },
    close() {
      closing ??= (async () => {
        try {
          await logins.close();
        } finally {
          await database.close();
        }
      })();
      return closing;
    },
  };
}
