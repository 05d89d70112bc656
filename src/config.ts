/**
 * One validated configuration object: explicit options, then environment variables, then an optional
 * JSON config file, then safe defaults.
 * @module
 */
import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Clock } from './domain/clock.ts';
import { systemClock } from './domain/clock.ts';
import { TrailguardError } from './domain/errors.ts';
import { isPlainObject } from './domain/validation.ts';
import type { TrustProxy } from './enrich/client-ip.ts';
import { compileTrust } from './enrich/client-ip.ts';
import type { GeoConfig } from './enrich/geo.ts';
import { resolveDetectionSettings } from './domain/security-event.ts';
import type { DetectionSettings } from './domain/security-event.ts';
import type { SecurityLogConfig } from './security/security-log.ts';
import { SECURITY_LOG_FORMATS } from './security/security-log-formats.ts';
import { DEFAULT_DATA_DIR } from './store/database.ts';
import { resolveRetentionPolicy } from './retention/retention-policy.ts';
import type { RetentionOptions, RetentionPolicy } from './retention/retention-policy.ts';
import { resolveAlertsConfig } from './alerts/alert-config.ts';
import type { AlertsOptions, ResolvedAlertsConfig } from './alerts/alert-config.ts';
import { resolveIntegrityConfig } from './integrity/integrity-config.ts';
import type { IntegrityOptions, ResolvedIntegrityConfig } from './integrity/integrity-config.ts';

// Compatibility: Logger moved to domain/ (every layer logs); kept here so imports of it from
// config.ts, in this tree and in other branches, still compile.
export type { Logger } from './domain/logger.ts';
import type { Logger } from './domain/logger.ts';

/** Options for `createTrailguard()`. Every one is optional. */
export interface TrailguardOptions {
  /** PostgreSQL URL. When unset, the embedded PGlite database is used. Env: `DATABASE_URL`. */
  databaseUrl?: string | undefined;
  /** Embedded database directory (`memory://` for a throwaway one). Env: `TRAILGUARD_DATA_DIR`. @default ./.trailguard/db */
  dataDir?: string | undefined;
  /** Redis URL for shared detection state. Env: `REDIS_URL`. @default in-process state */
  redisUrl?: string | undefined;
  /** Which peers may set X-Forwarded-For. @default false (trust nobody) */
  trustProxy?: TrustProxy | undefined;
  /** GeoIP databases, or false to turn geo off. @default bundled DB-IP country database */
  geo?: GeoConfig | undefined;
  /**
   * Attack-detection settings (thresholds, windows, mode …); see docs/security.md. Errors name the key
   * (`detection.bruteForce.threshold`). The HMAC key for Redis account keys may also come from
   * `TRAILGUARD_DETECTION_SECRET`.
   * @example { bruteForce: { threshold: 10, windowSeconds: 600 }, mode: 'enforce' }
   */
  detection?: Record<string, unknown> | undefined;
  /** Where security event lines go. @default { enabled: true, destination: 1 } (stdout) */
  securityLog?: SecurityLogConfig | undefined;
  /** Time source. @default the system clock */
  clock?: Clock | undefined;
  /** Diagnostics logger (pino-compatible). @default warnings and errors to stderr */
  logger?: Logger | undefined;
  /** PostgreSQL pool size. @default 10 */
  poolSize?: number | undefined;
  /**
   * Milliseconds a substring `search` of login history may scan before it returns a partial page
   * (with `searchedBack` and a cursor to go on). @default 50
   */
  searchBudgetMs?: number | undefined;
  /** Apply migrations at start. @default true */
  migrate?: boolean | undefined;
  /** A JSON config file to read options from (explicit options and env win). Env: `TRAILGUARD_CONFIG`. */
  configFile?: string | undefined;
  /** Retention periods, archive folder and schedule (see docs/compliance.md). */
  retention?: RetentionOptions | undefined;
  /** Alert rules, sinks, throttling and delivery (see docs/compliance.md). */
  alerts?: AlertsOptions | undefined;
  /**
   * Tamper evidence: the HMAC key for seals (env `TRAILGUARD_INTEGRITY_KEY`), automatic sealing and
   * the settle time (see docs/compliance.md, "Tamper evidence").
   */
  integrity?: IntegrityOptions | undefined;
}

/** The resolved configuration. */
export interface ResolvedConfig {
  databaseUrl: string | undefined;
  dataDir: string;
  redisUrl: string | undefined;
  trustProxy: TrustProxy;
  geo: GeoConfig | undefined;
  detection: DetectionSettings;
  securityLog: SecurityLogConfig;
  clock: Clock;
  logger: Logger | undefined;
  poolSize: number;
  searchBudgetMs: number;
  migrate: boolean;
  retention: RetentionPolicy;
  alerts: ResolvedAlertsConfig;
  integrity: ResolvedIntegrityConfig;
}

const FILE_KEYS = [
  'databaseUrl',
  'dataDir',
  'redisUrl',
  'trustProxy',
  'geo',
  'detection',
  'securityLog',
  'poolSize',
  'searchBudgetMs',
  'migrate',
  'retention',
  'alerts',
  'integrity',
] as const;

/** Keys of `TrailguardOptions`: the file's, and those only code can give. */
const OPTION_KEYS = [...FILE_KEYS, 'clock', 'logger', 'configFile'] as const;

function configError(field: string, message: string): TrailguardError {
  return new TrailguardError('CONFIG_INVALID', `${field}: ${message}`, { field });
}

function readConfigFile(path: string): Record<string, unknown> {
  const full = resolve(path);
  if (!existsSync(full)) throw configError('configFile', `no such file ${full}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(full, 'utf8'));
  } catch (err) {
    throw configError('configFile', `${full} is not valid JSON: ${(err as Error).message}`);
  }
  if (!isPlainObject(parsed)) throw configError('configFile', `${full} must contain a JSON object`);
  for (const key of Object.keys(parsed)) {
    if (!(FILE_KEYS as readonly string[]).includes(key) && !key.startsWith('$')) {
      throw configError(key, `unknown configuration key in ${full} (known: ${FILE_KEYS.join(', ')})`);
    }
  }
  return parsed;
}

/** Merges options, env and file, validates, and fills defaults. */
export function resolveConfig(
  options: TrailguardOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): ResolvedConfig {
  if (!isPlainObject(options as unknown))
    throw configError('options', 'createTrailguard() takes an options object');
  // A misspelt option must not silently fall back to a default (as the config file's keys do not).
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined && !(OPTION_KEYS as readonly string[]).includes(key))
      throw configError(key, `unknown option (known: ${OPTION_KEYS.join(', ')})`);
  }
  const filePath = options.configFile ?? env['TRAILGUARD_CONFIG'];
  const file = filePath ? readConfigFile(filePath) : {};
  const pick = <T>(key: string, envName?: string): T | undefined => {
    const explicit = (options as Record<string, unknown>)[key];
    if (explicit !== undefined) return explicit as T;
    if (envName && env[envName] !== undefined && env[envName] !== '') return env[envName] as T;
    return file[key] as T | undefined;
  };

  const databaseUrl = pick<string>('databaseUrl', 'DATABASE_URL');
  if (
    databaseUrl !== undefined &&
    (typeof databaseUrl !== 'string' || !/^postgres(ql)?:\/\//i.test(databaseUrl))
  ) {
    throw configError('databaseUrl', 'must be a postgres:// or postgresql:// URL');
  }
  const dataDir = pick<string>('dataDir', 'TRAILGUARD_DATA_DIR') ?? DEFAULT_DATA_DIR;
  if (typeof dataDir !== 'string' || dataDir === '')
    throw configError('dataDir', 'must be a directory path or memory://');
  const redisUrl = pick<string>('redisUrl', 'REDIS_URL');
  if (redisUrl !== undefined && (typeof redisUrl !== 'string' || !/^rediss?:\/\//i.test(redisUrl))) {
    throw configError('redisUrl', 'must be a redis:// or rediss:// URL');
  }
  const trustProxy = pick<TrustProxy>('trustProxy', 'TRAILGUARD_TRUST_PROXY') ?? false;
  try {
    compileTrust(normalizeTrustFromEnv(trustProxy));
  } catch (err) {
    const e = err as TrailguardError;
    throw configError(e.field ?? 'trustProxy', e.message.replace(/^[^:]+: /, ''));
  }
  const geo = pick<GeoConfig>('geo');
  if (geo !== undefined && geo !== false && !isPlainObject(geo))
    throw configError('geo', 'must be false or { countryDatabase?, cityDatabase? }');
  const rawDetection = pick<Record<string, unknown>>('detection') ?? {};
  if (!isPlainObject(rawDetection)) throw configError('detection', 'must be an object');
  const envSecret = env['TRAILGUARD_DETECTION_SECRET'];
  const detection = resolveDetectionSettings(
    rawDetection['accountKeySecret'] === undefined && envSecret
      ? { ...rawDetection, accountKeySecret: envSecret }
      : rawDetection,
  );
  const securityLog = pick<SecurityLogConfig>('securityLog') ?? {};
  if (!isPlainObject(securityLog))
    throw configError('securityLog', 'must be { enabled?, destination?, location?, format? }');
  if (securityLog.enabled !== undefined && typeof securityLog.enabled !== 'boolean')
    throw configError('securityLog.enabled', 'must be a boolean');
  if (securityLog.location !== undefined && typeof securityLog.location !== 'boolean')
    throw configError('securityLog.location', 'must be a boolean');
  if (
    securityLog.format !== undefined &&
    !(SECURITY_LOG_FORMATS as readonly unknown[]).includes(securityLog.format)
  )
    throw configError('securityLog.format', `must be one of: ${SECURITY_LOG_FORMATS.join(', ')}`);
  const dest = securityLog.destination;
  if (
    dest !== undefined &&
    !(typeof dest === 'string' && dest !== '') &&
    !(typeof dest === 'number' && Number.isInteger(dest) && dest >= 0) &&
    !(typeof dest === 'object' && dest !== null && typeof (dest as { write?: unknown }).write === 'function')
  ) {
    throw configError(
      'securityLog.destination',
      'must be a file path, a file descriptor or a writable stream',
    );
  }
  const poolSize = pick<number>('poolSize') ?? 10;
  if (typeof poolSize !== 'number' || !Number.isInteger(poolSize) || poolSize < 2 || poolSize > 100) {
    throw configError('poolSize', 'must be a whole number from 2 to 100');
  }
  const searchBudgetMs = pick<number>('searchBudgetMs') ?? 50;
  if (typeof searchBudgetMs !== 'number' || !Number.isFinite(searchBudgetMs) || searchBudgetMs < 0) {
    throw configError('searchBudgetMs', 'must be a number of milliseconds, 0 or more');
  }
  const clock = options.clock ?? systemClock;
  if (typeof clock?.now !== 'function')
    throw configError('clock', 'must have a now() method returning a Date');
  const logger = options.logger;
  return {
    databaseUrl,
    dataDir,
    redisUrl,
    trustProxy: normalizeTrustFromEnv(trustProxy),
    geo,
    detection,
    securityLog,
    clock,
    logger,
    poolSize,
    searchBudgetMs,
    migrate: pick<boolean>('migrate') ?? true,
    retention: resolveRetentionPolicy(pick('retention')),
    alerts: resolveAlertsConfig(pick('alerts')),
    integrity: resolveIntegrityConfig(pick('integrity'), env['TRAILGUARD_INTEGRITY_KEY']),
  };
}

// From the environment every value is a string: "true", "2", "loopback, 10.0.0.0/8".
function normalizeTrustFromEnv(v: TrustProxy): TrustProxy {
  if (typeof v !== 'string') return v;
  const s = v.trim();
  if (s === 'true') return true;
  if (s === 'false' || s === '') return false;
  if (/^\d+$/.test(s)) return Number(s);
  return s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}
