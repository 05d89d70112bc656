/**
 * `createTrailguard()`: wires configuration to stores and services. The library's entry point.
 * @module
 */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { resolveConfig } from './config.ts';
import type { ResolvedConfig, TrailguardOptions } from './config.ts';
import type { Logger } from './domain/logger.ts';
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
import { createDetector } from './detect/detector.ts';
import type { Detector } from './detect/detector.ts';
import { createSecurityLog } from './security/security-log.ts';
import type { SecurityLog } from './security/security-log.ts';
import { createSecurityRepository } from './security/security-repository.ts';
import { createSecurityService } from './security/security-service.ts';
import type { SecurityService } from './security/security-service.ts';
import { createRetentionService } from './retention/retention-service.ts';
import type { RetentionService } from './retention/retention-service.ts';
import { receiptChange } from './retention/receipt-change.ts';
import {
  FEATURES,
  partitionedTables,
  privacyContributors,
  retentionTargets,
  sealedStreams,
} from './features.ts';
import { createPrivacyService } from './privacy/privacy-service.ts';
import { createIncidentService } from './incidents/index.ts';
import type { IncidentService } from './incidents/index.ts';
import type { PrivacyService } from './privacy/privacy-service.ts';
import { createAlertService } from './alerts/alert-service.ts';
import type { AlertService } from './alerts/alert-service.ts';
import { createExportService } from './export/export-service.ts';
import type { ExportService } from './export/export-service.ts';
import { systemClock } from './domain/clock.ts';
import { createIntegrityService } from './integrity/integrity-service.ts';
import type { IntegrityService } from './integrity/integrity-service.ts';
import { startSealSchedule } from './integrity/seal-schedule.ts';
import type { SealSchedule } from './integrity/seal-schedule.ts';

/** Called after each group-committed batch. */
export type BatchListener = (table: string, size: number, durationMs: number) => void;

/** A running Trailguard instance. */
export interface Trailguard {
  /** Login history. */
  readonly logins: LoginService;
  /** Security events and attack detection. */
  readonly security: SecurityService;
  /** The production change log. */
  readonly changes: ChangeService;
  /** Incidents: production failures linked to the changes that caused and remedied them. */
  readonly incidents: IncidentService;
  /** Retention runs and their receipts. */
  readonly retention: RetentionService;
  /** GDPR export and erasure. */
  readonly privacy: PrivacyService;
  /** Alert rules, sinks and the delivery outbox. */
  readonly alerts: AlertService;
  /** SIEM export (JSON lines, CSV, OCSF, ECS). */
  readonly export: ExportService;
  /** Tamper evidence: seal, verify, and account for legitimate removals (see docs/compliance.md). */
  readonly integrity: IntegrityService;
  /** The resolved configuration (secrets redacted in `database.location`). */
  readonly config: Readonly<ResolvedConfig>;
  /** The open database (for the server, CLI and tests; applications should not need it). */
  readonly database: DatabaseHandle;
  /** Shared internals for the server and CLI. */
  readonly internals: {
    enricher: Enricher;
    partitions: PartitionManager;
    logger: Logger;
    /** Subscribes to group-commit batches (table, rows, milliseconds), for metrics. */
    onBatch(listener: BatchListener): () => void;
    /**
     * Seals every `intervalSeconds` until close() (the server's default when `integrity.sealIntervalSeconds`
     * is not configured). A no-op when sealing is already scheduled.
     */
    startSealing(intervalSeconds: number): void;
  };
  /** Commits pending writes and closes the database. Safe to call twice. */
  close(): Promise<void>;
}

/** Trailguard's own diagnostics when no logger is given: warnings and errors, as JSON, to stderr. */
export function defaultLogger(): Logger {
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
  const features = FEATURES;
  const streams = sealedStreams(features);
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
  const securityRepository = createSecurityRepository(database.db);
  let detector: Detector | null = null;
  // Bound once the alert service exists (it is created after the detector).
  let onDetectionDegraded: ((err: unknown) => void) | null = null;
  let securityLog: SecurityLog;
  try {
    securityLog = createSecurityLog(config.securityLog);
    for (const table of partitionedTables(features)) {
      // A retention drop interrupted after its detach leaves a month in no query; put it back now rather
      // than at the next run. Not fatal: the next run tries again, and a write to the month says why.
      await partitions.recover(table).then(
        (back) => {
          if (back.length) {
            logger.warn(
              { partitions: back.map((p) => p.name) },
              'partitions left detached by an interrupted retention run were attached again',
            );
          }
        },
        (err: unknown) =>
          logger.error({ err, table }, 'could not attach again a partition left detached by retention'),
      );
      await partitions.prepare(table, config.clock.now());
    }
    if (config.detection.enabled) {
      const d = config.detection;
      // Every process sharing this database (and so this Redis) must hash accounts with the same key.
      const secret =
        d.accountKeySecret ??
        (await securityRepository.secret('detection_account_key', randomBytes(32).toString('base64url')));
      detector = createDetector({
        redisUrl: config.redisUrl,
        patterns: d,
        clock: config.clock,
        keyPrefix: d.keyPrefix,
        accountKeySecret: secret,
        redisTimeoutMs: d.redisTimeoutMs,
        maxKeys: d.maxKeys,
        logger,
        onDegraded: (err) => onDetectionDegraded?.(err),
      });
      // Bounded (the connect timeout): the first logins of a new process then get the verdicts every
      // other process shares, not its private fallback's. An unreachable Redis only delays the start.
      await detector.ready();
    }
  } catch (err) {
    await database.close();
    throw err;
  }
  const batchListeners = new Set<BatchListener>();
  const logins = createLoginService({
    repository: createLoginRepository(database.db),
    stats: createLoginStatsRepository(database.db),
    partitions,
    enricher,
    clock: config.clock,
    maxInFlight: database.maxConcurrentWrites,
    maxBatch: database.batching.maxBatch,
    searchBudgetMs: config.searchBudgetMs,
    minOverlap: database.batching.minOverlap,
    onBatch: (size, ms) => {
      for (const listener of batchListeners) listener('login_history', size, ms);
    },
  });
  const security = createSecurityService({
    repository: securityRepository,
    partitions,
    enricher,
    clock: config.clock,
    detector,
    settings: config.detection,
    log: securityLog,
    maxInFlight: database.maxConcurrentWrites,
  });
  logins.attach(security.loginCompanion);
  const incidents = createIncidentService({ db: database.db, clock: config.clock });
  const changes = createChangeService({
    repository: createChangeRepository(database.db),
    clock: config.clock,
    dora: incidents.dora,
  });
  const integrity = createIntegrityService({
    db: database.db,
    streams,
    key: config.integrity.key,
    settleSeconds: config.integrity.settleSeconds,
    // UUIDv7 ids carry the system clock's time (uuidv7 reads it), whatever clock the application set.
    clock: systemClock,
    // The head goes outside the database: the diagnostics logger and the security log (to the SIEM).
    anchor: (head, sealed) => {
      const rows = sealed.reduce((n, s) => n + s.rows, 0);
      const message = `integrity sealed ${rows} row(s); chain head ${head.seq} ${head.hash}`;
      logger.info({ integrity: { head, rows } }, message);
      securityLog.write({
        timestamp: new Date(),
        severity: 'info',
        message,
        type: 'integrity_sealed',
        context: { head_seq: head.seq, head_hash: head.hash, rows },
      });
    },
  });
  const retention = createRetentionService({
    db: database.db,
    backend: database.backend,
    partitions,
    clock: config.clock,
    logger,
    policy: config.retention,
    targets: retentionTargets(features),
    integrity,
    sealedTables: streams.map((s) => s.name),
    // The receipt of each run becomes a `data_retention` change, so auditors find it with the changes.
    recordReceipt: async (receipt) => (await changes.log(receiptChange(receipt))).id,
  });
  const privacy = createPrivacyService({
    db: database.db,
    clock: config.clock,
    logger,
    flushWrites: async () => {
      await logins.flush();
      await security.flush();
    },
    contributors: privacyContributors(features),
    integrity,
    pseudonymKey: () =>
      securityRepository.secret('privacy_pseudonym_key', randomBytes(32).toString('base64url')),
  });
  const alerts = createAlertService({ db: database.db, clock: config.clock, logger, config: config.alerts });
  // Rules run beside the login, never in its way: a slow database query or sink cannot delay record().
  // Only failed logins need a query (the burst count); signals come from the committed events.
  logins.observe((record) => {
    if (!record.success) alerts.background('login rules', () => alerts.onLogin(record));
  });
  // Of the successful logins, only those that carry signals (a new country) can raise an alert.
  security.onEvent((event) => {
    if (
      event.type === 'suspicious_activity' ||
      (event.type === 'login_success' && Array.isArray(event.context['signals']))
    ) {
      alerts.background('event rules', () => alerts.onSecurityEvent(event));
    }
  });
  onDetectionDegraded = (err) =>
    alerts.background('detection degraded', () => alerts.onDetectionDegraded(err));
  const exporter = createExportService({ db: database.db });
  let sealSchedule: SealSchedule | null = null;
  const startSealing = (seconds: number) => {
    sealSchedule ??= startSealSchedule(integrity, seconds, logger);
  };
  if (typeof config.integrity.sealIntervalSeconds === 'number')
    startSealing(config.integrity.sealIntervalSeconds);

  let closing: Promise<void> | null = null;
  return {
    logins,
    security,
    changes,
    incidents,
    retention,
    privacy,
    alerts,
    export: exporter,
    integrity,
    config,
    database,
    internals: {
      enricher,
      partitions,
      logger,
      onBatch(listener) {
        batchListeners.add(listener);
        return () => batchListeners.delete(listener);
      },
      startSealing,
    },
    close() {
      closing ??= (async () => {
        try {
          await sealSchedule?.stop();
          await logins.close();
          await security.close();
          await alerts.close();
        } finally {
          await database.close();
        }
      })();
      return closing;
    },
  };
}
