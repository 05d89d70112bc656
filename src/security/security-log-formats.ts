/**
 * The shapes of a security log line: ECS (Elastic Common Schema 8.x, the default), OpenTelemetry's log
 * data model, and `seed`, the original `{level, logger, location, context}` shape kept for existing
 * parsers. Each builds the object pino writes; the message is pino's message key.
 * @module
 */
import type { SecurityCategory, Severity } from '../domain/security-event.ts';
import { isSecurityEventType } from '../domain/security-event.ts';
import {
  ECS_EVENT,
  ECS_SEVERITY,
  ECS_VERSION,
  OTEL_SEVERITY_NUMBER,
  SEVERITY_TEXT,
} from '../domain/siem-vocabulary.ts';
import type { CallSite } from './call-site.ts';

/** The line formats `securityLog.format` accepts. */
export const SECURITY_LOG_FORMATS = ['ecs', 'otel', 'seed'] as const;
export type SecurityLogFormat = (typeof SECURITY_LOG_FORMATS)[number];

/** The active span when the line's event was raised (OpenTelemetry, when the application uses it). */
export interface TraceIds {
  traceId: string;
  spanId: string;
  /** W3C trace flags (1 = sampled). */
  flags: number;
}

/** One line, before it takes a format. */
export interface SecurityLogLine {
  timestamp: Date;
  severity: Severity;
  message: string;
  /** The security event type (`login_failed`), or a notice of Trailguard's own (`integrity_sealed`). */
  type: string;
  /** The event's category and id; absent on a notice. */
  category?: SecurityCategory | undefined;
  id?: string | undefined;
  username?: string | null | undefined;
  userId?: string | null | undefined;
  ip?: string | null | undefined;
  userAgent?: string | null | undefined;
  reason?: string | null | undefined;
  /** The application code that raised the event; left out of the line when unknown. */
  location?: CallSite | null | undefined;
  trace?: TraceIds | undefined;
  /** The rest: detection counts, the caller's context (core keys already removed). */
  context: Record<string, unknown>;
}

export type LineFormatter = (line: SecurityLogLine) => Record<string, unknown>;

const known = (site: CallSite | null | undefined): site is CallSite => !!site && site.file !== null;

/** The seed's shape. `location` is left out when unknown rather than written as nulls. */
function seedLine(line: SecurityLogLine): Record<string, unknown> {
  const context: Record<string, unknown> =
    line.category === undefined
      ? { event_type: line.type, ...line.context }
      : {
          event_type: line.type,
          category: line.category,
          severity: line.severity,
          // The seed's shape names the field after the value; `ecs` and `otel` keep one name.
          ...(line.username != null && line.username.includes('@')
            ? { email: line.username }
            : { username: line.username ?? null }),
          ...(line.userId != null ? { user_id: line.userId } : {}),
          ip_address: line.ip ?? null,
          user_agent: line.userAgent ?? null,
          reason: line.reason ?? null,
          ...line.context,
          event_id: line.id,
        };
  return {
    timestamp: line.timestamp.toISOString(),
    logger: 'security.events',
    ...(known(line.location) ? { location: line.location } : {}),
    context,
  };
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * ECS: the field names an Elastic, OpenSearch or any ECS-aware pipeline maps without a custom parser.
 * `@timestamp`, `log.level` and `ecs.version` are written dotted at the top, as the ecs-logging
 * specification asks; the rest nested. What ECS has no field for stays under `trailguard.context`.
 */
function ecsLine(line: SecurityLogLine): Record<string, unknown> {
  const c = isSecurityEventType(line.type) ? ECS_EVENT[line.type] : undefined;
  const country = text(line.context['country']);
  const city = text(line.context['city']);
  const pattern = text(line.context['pattern']);
  const { country: _c, city: _t, ...rest } = line.context;
  const context = line.category === undefined ? line.context : rest;
  const location = known(line.location) ? line.location : null;
  return {
    '@timestamp': line.timestamp.toISOString(),
    'ecs.version': ECS_VERSION,
    log: {
      logger: 'security.events',
      ...(location
        ? {
            origin: {
              file: { name: location.file, ...(location.line !== null ? { line: location.line } : {}) },
              ...(location.function !== null ? { function: location.function } : {}),
            },
          }
        : {}),
    },
    event: {
      kind: c?.kind ?? 'event',
      ...(c ? { category: c.category, type: c.type, outcome: c.outcome } : {}),
      action: line.type.replace(/_/g, '-'),
      severity: ECS_SEVERITY[line.severity],
      ...(line.reason ? { reason: line.reason } : {}),
      ...(line.id !== undefined ? { id: line.id } : {}),
      module: 'trailguard',
      dataset: 'trailguard.security',
    },
    ...(line.username != null || line.userId != null
      ? {
          user: {
            ...(line.username != null ? { name: line.username } : {}),
            ...(line.userId != null ? { id: line.userId } : {}),
          },
        }
      : {}),
    ...(line.ip
      ? {
          source: {
            ip: line.ip,
            ...(country || city
              ? {
                  geo: {
                    ...(country ? { country_iso_code: country } : {}),
                    ...(city ? { city_name: city } : {}),
                  },
                }
              : {}),
          },
        }
      : {}),
    ...(line.userAgent ? { user_agent: { original: line.userAgent } } : {}),
    ...(c?.kind === 'alert' && pattern ? { rule: { name: pattern } } : {}),
    ...(line.trace ? { trace: { id: line.trace.traceId }, span: { id: line.trace.spanId } } : {}),
    ...(Object.keys(context).length ? { trailguard: { context } } : {}),
  };
}

/**
 * OpenTelemetry's log data model: `Timestamp` in nanoseconds since the epoch (a string: it passes
 * 2^53), the severity as text and number, `Body`, the active trace and span when there is one, and
 * attributes named after the semantic conventions (`user.name`, `client.address`,
 * `user_agent.original`, `geo.*`, `code.*`); Trailguard's own under `trailguard.*`.
 */
function otelLine(line: SecurityLogLine): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  if (line.username != null) attributes['user.name'] = line.username;
  if (line.userId != null) attributes['user.id'] = line.userId;
  if (line.ip) attributes['client.address'] = line.ip;
  if (line.userAgent) attributes['user_agent.original'] = line.userAgent;
  const { country, city, ...rest } = line.context;
  const context = line.category === undefined ? line.context : rest;
  if (line.category !== undefined) {
    if (text(country)) attributes['geo.country.iso_code'] = country;
    if (text(city)) attributes['geo.locality.name'] = city;
  }
  if (known(line.location)) {
    attributes['code.file.path'] = line.location.file;
    if (line.location.line !== null) attributes['code.line.number'] = line.location.line;
    if (line.location.function !== null) attributes['code.function.name'] = line.location.function;
  }
  if (line.id !== undefined) attributes['trailguard.event.id'] = line.id;
  if (line.category !== undefined) attributes['trailguard.event.category'] = line.category;
  if (line.reason) attributes['trailguard.reason'] = line.reason;
  if (Object.keys(context).length) attributes['trailguard.context'] = context;
  return {
    Timestamp: `${BigInt(line.timestamp.getTime()) * 1_000_000n}`,
    ...(line.trace
      ? { TraceId: line.trace.traceId, SpanId: line.trace.spanId, TraceFlags: line.trace.flags }
      : {}),
    InstrumentationScope: { Name: 'trailguard' },
    EventName: `trailguard.${line.type}`,
    Attributes: attributes,
  };
}

/**
 * Per format: the line's fields, its severity fields (pino writes them first, from the level the line
 * is logged at) and the key of the message.
 */
export const LINE_FORMATS: Readonly<
  Record<
    SecurityLogFormat,
    { build: LineFormatter; severity: (s: Severity) => Record<string, unknown>; messageKey: string }
  >
> = {
  ecs: { build: ecsLine, severity: (s) => ({ 'log.level': s }), messageKey: 'message' },
  otel: {
    build: otelLine,
    severity: (s) => ({ SeverityText: SEVERITY_TEXT[s], SeverityNumber: OTEL_SEVERITY_NUMBER[s] }),
    messageKey: 'Body',
  },
  seed: { build: seedLine, severity: (s) => ({ level: SEVERITY_TEXT[s] }), messageKey: 'message' },
};
