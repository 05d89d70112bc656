/**
 * Alert configuration: sinks (webhook, Slack, e-mail, log), rules (each on/off and tunable), throttling
 * and delivery. Validated once at start; an error names the key.
 * @module
 */
import { TrailguardError } from '../domain/errors.ts';
import { isPlainObject } from '../domain/validation.ts';

/**
 * A generic webhook: JSON POST with the Standard Webhooks headers (`webhook-id`, `webhook-timestamp`,
 * and `webhook-signature` when `secret` is set).
 */
export interface WebhookSinkOptions {
  type: 'webhook';
  /** Unique name rules refer to. @default the type */
  name?: string | undefined;
  url: string;
  /**
   * Signing secret. A Standard Webhooks secret (`whsec_` + base64 of 24 to 64 random bytes) is used as
   * such; any other string is used as its UTF-8 bytes.
   * @example 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
   */
  secret?: string | undefined;
  /**
   * Also send the deprecated `X-Trailguard-Signature` header (kept for receivers written before the
   * Standard Webhooks headers). @default true
   */
  legacySignature?: boolean | undefined;
  /** Extra request headers (e.g. an authorization token of the receiver). */
  headers?: Record<string, string> | undefined;
}

/** A Slack incoming webhook. */
export interface SlackSinkOptions {
  type: 'slack';
  name?: string | undefined;
  url: string;
}

/** E-mail over SMTP (nodemailer). */
export interface EmailSinkOptions {
  type: 'email';
  name?: string | undefined;
  smtp: {
    host: string;
    /** @default 587 (465 when secure) */
    port?: number | undefined;
    /** TLS from the first byte (port 465). @default false (STARTTLS when offered) */
    secure?: boolean | undefined;
    /** Refuse to send unless STARTTLS succeeds. @default false */
    requireTLS?: boolean | undefined;
    auth?: { user: string; pass: string } | undefined;
    /** Accept a self-signed server certificate. @default false */
    allowSelfSigned?: boolean | undefined;
  };
  from: string;
  to: string | string[];
}

/** The diagnostics logger. */
export interface LogSinkOptions {
  type: 'log';
  name?: string | undefined;
}

export type SinkOptions = WebhookSinkOptions | SlackSinkOptions | EmailSinkOptions | LogSinkOptions;

/** Settings every rule has. */
export interface RuleOptions {
  /** @default true */
  enabled?: boolean | undefined;
  /** One alert per rule and key per this many seconds; later ones are counted as suppressed. */
  throttleSeconds?: number | undefined;
  /** Names of the sinks to deliver to. @default every sink */
  sinks?: string[] | undefined;
}

/** Rule settings. */
export interface AlertRulesOptions {
  /** ≥ `threshold` failed logins for one username within `windowSeconds` (seed: 3 in 5 min). */
  failedLoginBurst?:
    (RuleOptions & { threshold?: number | undefined; windowSeconds?: number | undefined }) | undefined;
  /** A successful login from a country the user has not logged in from within `lookbackDays`. */
  newCountry?: (RuleOptions & { lookbackDays?: number | undefined }) | undefined;
  /** Each detection signal (brute force, distributed attack, enumeration, impossible travel). */
  detectionSignal?: RuleOptions | undefined;
  /** A critical change deployed without approval (checked every `checkEveryMinutes`). */
  criticalChangeUnapproved?: (RuleOptions & { checkEveryMinutes?: number | undefined }) | undefined;
  /** An emergency change not approved after the fact within `graceHours`. */
  emergencyChangeUnapproved?: (RuleOptions & { graceHours?: number | undefined }) | undefined;
  /** Detection fell back to in-process state (Redis unreachable). */
  detectionDegraded?: RuleOptions | undefined;
}

/** `alerts` in the config. */
export interface AlertsOptions {
  /** @default [{ type: 'log' }] */
  sinks?: SinkOptions[] | undefined;
  rules?: AlertRulesOptions | undefined;
  /** Default throttle window for every rule. @default 900 */
  throttleSeconds?: number | undefined;
  delivery?:
    | {
        /** Attempts per sink before a delivery is marked failed. @default 8 */
        maxAttempts?: number | undefined;
        /** First retry delay; doubles each attempt. @default 1000 */
        initialDelayMs?: number | undefined;
        /** Longest wait between attempts (also caps Retry-After). @default 600000 */
        maxDelayMs?: number | undefined;
        /** Per-attempt timeout. @default 10000 */
        timeoutMs?: number | undefined;
        /** How often the outbox is polled for due deliveries. @default 2000 */
        pollIntervalMs?: number | undefined;
        /** Run the dispatcher in this process. @default true */
        enabled?: boolean | undefined;
      }
    | undefined;
}

export interface ResolvedRule {
  enabled: boolean;
  throttleSeconds: number;
  sinks: string[] | null;
}

export interface ResolvedAlertsConfig {
  sinks: (SinkOptions & { name: string })[];
  rules: {
    failedLoginBurst: ResolvedRule & { threshold: number; windowSeconds: number };
    newCountry: ResolvedRule & { lookbackDays: number };
    detectionSignal: ResolvedRule;
    criticalChangeUnapproved: ResolvedRule & { checkEveryMinutes: number };
    emergencyChangeUnapproved: ResolvedRule & { graceHours: number };
    detectionDegraded: ResolvedRule;
  };
  throttleSeconds: number;
  delivery: {
    maxAttempts: number;
    initialDelayMs: number;
    maxDelayMs: number;
    timeoutMs: number;
    pollIntervalMs: number;
    enabled: boolean;
  };
}

function fail(field: string, message: string): TrailguardError {
  return new TrailguardError('CONFIG_INVALID', `${field}: ${message}`, { field });
}

function obj(value: unknown, field: string, keys: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) throw fail(field, 'must be an object');
  for (const k of Object.keys(value)) {
    if (!keys.includes(k)) throw fail(`${field}.${k}`, `unknown key (known: ${keys.join(', ')})`);
  }
  return value;
}

function num(value: unknown, field: string, dflt: number, min: number, max: number): number {
  if (value === undefined) return dflt;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw fail(field, `must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function bool(value: unknown, field: string, dflt: boolean): boolean {
  if (value === undefined) return dflt;
  if (typeof value !== 'boolean') throw fail(field, 'must be true or false');
  return value;
}

function str(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw fail(field, 'must be a non-empty string');
  return value;
}

/** A `whsec_` secret must be the base64 of 24 to 64 bytes, as the Standard Webhooks specification asks. */
function webhookSecret(value: unknown, field: string): string {
  const s = str(value, field);
  if (!s.startsWith('whsec_')) return s;
  const b64 = s.slice('whsec_'.length);
  const bytes = Buffer.from(b64, 'base64');
  if (
    !/^[A-Za-z0-9+/]+={0,2}$/.test(b64) ||
    bytes.toString('base64') !== b64.padEnd(Math.ceil(b64.length / 4) * 4, '=')
  )
    throw fail(field, 'a whsec_ secret must be followed by base64');
  if (bytes.length < 24 || bytes.length > 64)
    throw fail(field, `a whsec_ secret must hold 24 to 64 bytes, not ${bytes.length}`);
  return s;
}

function httpUrl(value: unknown, field: string): string {
  const s = str(value, field);
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw fail(field, 'must be an http(s) URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw fail(field, 'must be an http(s) URL');
  return s;
}

const BASE_RULE_KEYS = ['enabled', 'throttleSeconds', 'sinks'] as const;

function sink(value: unknown, field: string): SinkOptions & { name: string } {
  if (!isPlainObject(value)) throw fail(field, 'must be an object with a type');
  const type = value['type'];
  const name = value['name'] === undefined ? String(type) : str(value['name'], `${field}.name`);
  switch (type) {
    case 'webhook': {
      const v = obj(value, field, ['type', 'name', 'url', 'secret', 'legacySignature', 'headers']);
      const headers = v['headers'];
      if (headers !== undefined) {
        if (!isPlainObject(headers) || Object.values(headers).some((h) => typeof h !== 'string')) {
          throw fail(`${field}.headers`, 'must map header names to strings');
        }
      }
      return {
        type,
        name,
        url: httpUrl(v['url'], `${field}.url`),
        ...(v['secret'] !== undefined ? { secret: webhookSecret(v['secret'], `${field}.secret`) } : {}),
        ...(v['legacySignature'] !== undefined
          ? { legacySignature: bool(v['legacySignature'], `${field}.legacySignature`, true) }
          : {}),
        ...(headers !== undefined ? { headers: headers as Record<string, string> } : {}),
      };
    }
    case 'slack': {
      const v = obj(value, field, ['type', 'name', 'url']);
      return { type, name, url: httpUrl(v['url'], `${field}.url`) };
    }
    case 'email': {
      const v = obj(value, field, ['type', 'name', 'smtp', 'from', 'to']);
      const smtp = obj(v['smtp'], `${field}.smtp`, [
        'host',
        'port',
        'secure',
        'requireTLS',
        'auth',
        'allowSelfSigned',
      ]);
      const auth = smtp['auth'];
      if (auth !== undefined) {
        const a = obj(auth, `${field}.smtp.auth`, ['user', 'pass']);
        str(a['user'], `${field}.smtp.auth.user`);
        str(a['pass'], `${field}.smtp.auth.pass`);
      }
      const to = v['to'];
      const list = Array.isArray(to) ? to : [to];
      if (list.length === 0) throw fail(`${field}.to`, 'must name at least one recipient');
      list.forEach((t, i) => str(t, Array.isArray(to) ? `${field}.to[${i}]` : `${field}.to`));
      return {
        type,
        name,
        smtp: {
          host: str(smtp['host'], `${field}.smtp.host`),
          port: num(smtp['port'], `${field}.smtp.port`, smtp['secure'] === true ? 465 : 587, 1, 65535),
          secure: bool(smtp['secure'], `${field}.smtp.secure`, false),
          requireTLS: bool(smtp['requireTLS'], `${field}.smtp.requireTLS`, false),
          allowSelfSigned: bool(smtp['allowSelfSigned'], `${field}.smtp.allowSelfSigned`, false),
          ...(auth !== undefined ? { auth: auth as { user: string; pass: string } } : {}),
        },
        from: str(v['from'], `${field}.from`),
        to: list as string[],
      };
    }
    case 'log':
      obj(value, field, ['type', 'name']);
      return { type, name };
    default:
      throw fail(`${field}.type`, 'must be one of: webhook, slack, email, log');
  }
}

/** Validates the `alerts` options and fills defaults. */
export function resolveAlertsConfig(value: unknown): ResolvedAlertsConfig {
  const root = obj(value, 'alerts', ['sinks', 'rules', 'throttleSeconds', 'delivery']);
  const rawSinks = root['sinks'] ?? [{ type: 'log' }];
  if (!Array.isArray(rawSinks)) throw fail('alerts.sinks', 'must be a list of sinks');
  const sinks = rawSinks.map((s, i) => sink(s, `alerts.sinks[${i}]`));
  const names = new Set<string>();
  sinks.forEach((s, i) => {
    if (names.has(s.name))
      throw fail(`alerts.sinks[${i}].name`, `duplicate sink name '${s.name}'; give each a name`);
    names.add(s.name);
  });
  const throttleSeconds = num(root['throttleSeconds'], 'alerts.throttleSeconds', 900, 1, 7 * 86_400);
  const rules = obj(root['rules'], 'alerts.rules', [
    'failedLoginBurst',
    'newCountry',
    'detectionSignal',
    'criticalChangeUnapproved',
    'emergencyChangeUnapproved',
    'detectionDegraded',
  ]);
  const base = (key: string, extra: readonly string[]): [ResolvedRule, Record<string, unknown>] => {
    const field = `alerts.rules.${key}`;
    const r = obj(rules[key], field, [...BASE_RULE_KEYS, ...extra]);
    let ruleSinks: string[] | null = null;
    if (r['sinks'] !== undefined) {
      if (!Array.isArray(r['sinks'])) throw fail(`${field}.sinks`, 'must be a list of sink names');
      ruleSinks = r['sinks'].map((n, i) => {
        const s = str(n, `${field}.sinks[${i}]`);
        if (!names.has(s))
          throw fail(`${field}.sinks[${i}]`, `no sink named '${s}' (known: ${[...names].join(', ')})`);
        return s;
      });
    }
    return [
      {
        enabled: bool(r['enabled'], `${field}.enabled`, true),
        throttleSeconds: num(
          r['throttleSeconds'],
          `${field}.throttleSeconds`,
          throttleSeconds,
          1,
          7 * 86_400,
        ),
        sinks: ruleSinks,
      },
      r,
    ];
  };
  const [burst, burstRaw] = base('failedLoginBurst', ['threshold', 'windowSeconds']);
  const [country, countryRaw] = base('newCountry', ['lookbackDays']);
  const [signal] = base('detectionSignal', []);
  const [critical, criticalRaw] = base('criticalChangeUnapproved', ['checkEveryMinutes']);
  const [emergency, emergencyRaw] = base('emergencyChangeUnapproved', ['graceHours']);
  const [degraded] = base('detectionDegraded', []);
  const delivery = obj(root['delivery'], 'alerts.delivery', [
    'maxAttempts',
    'initialDelayMs',
    'maxDelayMs',
    'timeoutMs',
    'pollIntervalMs',
    'enabled',
  ]);
  return {
    sinks,
    throttleSeconds,
    rules: {
      failedLoginBurst: {
        ...burst,
        threshold: num(burstRaw['threshold'], 'alerts.rules.failedLoginBurst.threshold', 3, 1, 1_000_000),
        windowSeconds: num(
          burstRaw['windowSeconds'],
          'alerts.rules.failedLoginBurst.windowSeconds',
          300,
          1,
          86_400,
        ),
      },
      newCountry: {
        ...country,
        lookbackDays: num(countryRaw['lookbackDays'], 'alerts.rules.newCountry.lookbackDays', 90, 1, 3650),
      },
      detectionSignal: signal,
      criticalChangeUnapproved: {
        ...critical,
        checkEveryMinutes: num(
          criticalRaw['checkEveryMinutes'],
          'alerts.rules.criticalChangeUnapproved.checkEveryMinutes',
          60,
          1,
          1440,
        ),
      },
      emergencyChangeUnapproved: {
        ...emergency,
        graceHours: num(
          emergencyRaw['graceHours'],
          'alerts.rules.emergencyChangeUnapproved.graceHours',
          24,
          1,
          720,
        ),
      },
      detectionDegraded: degraded,
    },
    delivery: {
      maxAttempts: num(delivery['maxAttempts'], 'alerts.delivery.maxAttempts', 8, 1, 100),
      initialDelayMs: num(delivery['initialDelayMs'], 'alerts.delivery.initialDelayMs', 1000, 1, 3_600_000),
      maxDelayMs: num(delivery['maxDelayMs'], 'alerts.delivery.maxDelayMs', 600_000, 1, 86_400_000),
      timeoutMs: num(delivery['timeoutMs'], 'alerts.delivery.timeoutMs', 10_000, 10, 600_000),
      pollIntervalMs: num(delivery['pollIntervalMs'], 'alerts.delivery.pollIntervalMs', 2000, 10, 3_600_000),
      enabled: bool(delivery['enabled'], 'alerts.delivery.enabled', true),
    },
  };
}
