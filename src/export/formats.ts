/**
 * Record → SIEM line mappings: CSV (RFC 4180), OCSF 1.3 and Elastic Common Schema 8. The mappings are
 * documented in docs/compliance.md; change both together.
 * @module
 */
import { readFileSync } from 'node:fs';
import type { LoginRecord } from '../domain/login.ts';
import { BASE_SEVERITY } from '../domain/security-event.ts';
import type { Severity } from '../domain/security-event.ts';
import { ECS_VERSION, OCSF_SEVERITY } from '../domain/siem-vocabulary.ts';

export const OCSF_VERSION = '1.3.0';
export { ECS_VERSION };

/**
 * A copy of `value` without null (or undefined) object members, at any depth; arrays keep their items.
 * OCSF's `unmapped` and ECS documents say "unknown" by leaving a key out, and a SIEM indexing a
 * null as a value would count it as one.
 */
export function withoutNulls<T>(value: T): T {
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  if (Array.isArray(value)) return value.map((v: unknown) => withoutNulls(v)) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) out[k] = withoutNulls(v);
  return out as T;
}

const productVersion = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
})();

/** OCSF `metadata` shared by every event. */
export function ocsfMetadata(uid: string, logName: string): Record<string, unknown> {
  return {
    version: OCSF_VERSION,
    uid,
    log_name: logName,
    product: { name: 'Trailguard', vendor_name: 'Trailguard', version: productVersion },
  };
}

/** One CSV field: quoted when needed; text that a spreadsheet would run as a formula is defused with `'`. */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  let s: string;
  if (value instanceof Date) s = value.toISOString();
  else if (typeof value === 'object') s = JSON.stringify(value);
  else if (typeof value === 'string') s = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  else s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(values: unknown[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}

// OCSF auth_protocol_id values for the login types that have one; the rest are 99 Other.
const AUTH_PROTOCOL: Record<string, [number, string]> = {
  oauth: [6, 'OAUTH 2.0'],
  sso: [99, 'SSO'],
};

export const LOGIN_CSV_COLUMNS = [
  'id',
  'login_at',
  'user_id',
  'username',
  'login_type',
  'success',
  'failure_reason',
  'ip_address',
  'user_agent',
  'browser',
  'browser_version',
  'os',
  'device_type',
  'country',
  'city',
  'logout_at',
  'session_duration_seconds',
  'metadata',
  'event',
] as const;

/** The two events of a login record: the attempt at `login_at` and, for a closed session, its end at `logout_at`. */
export type LoginEvent = 'login' | 'logout';

/**
 * The record as it stood at `event`: the login line leaves out the logout, which is the logout line's
 * event. A line then says the same whenever its window is exported, and a logout is exported once.
 */
export function recordAtEvent(r: LoginRecord, event: LoginEvent): LoginRecord {
  return event === 'login' && r.logoutAt !== null
    ? { ...r, logoutAt: null, sessionDurationSeconds: null }
    : r;
}

/** One event of a login record as a JSON lines object: the record at that event, `event` first. */
export function loginJson(r: LoginRecord, event: LoginEvent): Record<string, unknown> {
  return { event, ...recordAtEvent(r, event) };
}

/** One event of a login record as a CSV line (the `event` column last, after the record's columns). */
export function loginCsv(record: LoginRecord, event: LoginEvent): string {
  const r = recordAtEvent(record, event);
  return csvLine([
    r.id,
    r.loginAt,
    r.userId,
    r.username,
    r.loginType,
    r.success,
    r.failureReason,
    r.ipAddress,
    r.userAgent,
    r.browser,
    r.browserVersion,
    r.os,
    r.deviceType,
    r.country,
    r.city,
    r.logoutAt,
    r.sessionDurationSeconds,
    r.metadata,
    event,
  ]);
}

function ocsfLocation(r: LoginRecord): Record<string, unknown> | undefined {
  if (r.country === null && r.city === null) return undefined;
  return { ...(r.country ? { country: r.country } : {}), ...(r.city ? { city: r.city } : {}) };
}

/** OCSF `service` of an Authentication event. */
export const AUTHENTICATED_SERVICE = Object.freeze({ name: 'Trailguard' });

/** A login record as OCSF Authentication (3002): a Logon, and a Logoff when the session was closed. */
export function loginOcsf(r: LoginRecord): Record<string, unknown>[] {
  return r.logoutAt === null
    ? [loginOcsfEvent(r, 'login')]
    : [loginOcsfEvent(r, 'login'), loginOcsfEvent(r, 'logout')];
}

/** One event of a login record as OCSF Authentication (3002): Logon (`login`) or Logoff (`logout`). */
export function loginOcsfEvent(
  r: LoginRecord,
  event: LoginEvent,
  /** The severity of the login's own security event, when known (it may have been escalated). */
  eventSeverity?: Severity,
): Record<string, unknown> {
  const [protocolId, protocol] = AUTH_PROTOCOL[r.loginType] ?? [99, r.loginType];
  const location = ocsfLocation(r);
  const common = {
    class_uid: 3002,
    class_name: 'Authentication',
    category_uid: 3,
    category_name: 'Identity & Access Management',
    user: { name: r.username, ...(r.userId !== null ? { uid: r.userId } : {}) },
    // OCSF asks for the service authenticated to (or its endpoint); the export knows only that the
    // login went through Trailguard.
    service: AUTHENTICATED_SERVICE,
    src_endpoint: { ...(r.ipAddress ? { ip: r.ipAddress } : {}), ...(location ? { location } : {}) },
    ...(r.userAgent ? { http_request: { user_agent: r.userAgent } } : {}),
    auth_protocol_id: protocolId,
    auth_protocol: protocol,
    unmapped: withoutNulls({
      login_type: r.loginType,
      device_type: r.deviceType,
      browser: r.browser,
      browser_version: r.browserVersion,
      os: r.os,
    }),
  };
  if (event === 'login') {
    // The same severity as the login's own security event (login_success / login_failed) exported
    // from the security events.
    const [severityId, severity] =
      OCSF_SEVERITY[eventSeverity ?? BASE_SEVERITY[r.success ? 'login_success' : 'login_failed']];
    return {
      ...common,
      activity_id: 1,
      activity_name: 'Logon',
      type_uid: 300201,
      type_name: 'Authentication: Logon',
      time: r.loginAt.getTime(),
      severity_id: severityId,
      severity,
      status_id: r.success ? 1 : 2,
      status: r.success ? 'Success' : 'Failure',
      ...(r.failureReason ? { status_detail: r.failureReason } : {}),
      metadata: ocsfMetadata(r.id, 'login_history'),
    };
  }
  if (r.logoutAt === null) throw new TypeError(`login ${r.id} has no logout`);
  return {
    ...common,
    activity_id: 2,
    activity_name: 'Logoff',
    type_uid: 300202,
    type_name: 'Authentication: Logoff',
    time: r.logoutAt.getTime(),
    severity_id: 1,
    severity: 'Informational',
    status_id: 1,
    status: 'Success',
    ...(r.sessionDurationSeconds !== null ? { duration: Math.round(r.sessionDurationSeconds * 1000) } : {}),
    metadata: ocsfMetadata(`${r.id}:logoff`, 'login_history'),
  };
}

/** A login record as ECS documents: the login (`event.type: start`) and the logout (`end`) if any. */
export function loginEcs(r: LoginRecord): Record<string, unknown>[] {
  return r.logoutAt === null
    ? [loginEcsEvent(r, 'login')]
    : [loginEcsEvent(r, 'login'), loginEcsEvent(r, 'logout')];
}

/** One event of a login record as an ECS document: the login (`start`) or the logout (`end`). */
export function loginEcsEvent(r: LoginRecord, event: LoginEvent): Record<string, unknown> {
  const geo =
    r.country !== null || r.city !== null
      ? {
          geo: {
            ...(r.country ? { country_iso_code: r.country } : {}),
            ...(r.city ? { city_name: r.city } : {}),
          },
        }
      : {};
  const common = {
    ecs: { version: ECS_VERSION },
    source: { ...(r.ipAddress ? { ip: r.ipAddress } : {}), ...geo },
    user: { name: r.username, ...(r.userId !== null ? { id: r.userId } : {}) },
    ...(r.userAgent
      ? {
          user_agent: {
            original: r.userAgent,
            ...(r.browser ? { name: r.browser } : {}),
            ...(r.browserVersion ? { version: r.browserVersion } : {}),
            ...(r.os ? { os: { name: r.os } } : {}),
            device: { name: r.deviceType },
          },
        }
      : {}),
    labels: { login_type: r.loginType, device_type: r.deviceType },
  };
  if (event === 'login') {
    return {
      '@timestamp': r.loginAt.toISOString(),
      ...common,
      event: {
        kind: 'event',
        category: ['authentication'],
        type: ['start'],
        action: 'user-login',
        outcome: r.success ? 'success' : 'failure',
        ...(r.failureReason ? { reason: r.failureReason } : {}),
        id: r.id,
        module: 'trailguard',
        dataset: 'trailguard.logins',
      },
    };
  }
  if (r.logoutAt === null) throw new TypeError(`login ${r.id} has no logout`);
  return {
    '@timestamp': r.logoutAt.toISOString(),
    ...common,
    event: {
      kind: 'event',
      category: ['authentication', 'session'],
      type: ['end'],
      action: 'user-logout',
      outcome: 'success',
      id: `${r.id}:logout`,
      module: 'trailguard',
      dataset: 'trailguard.logins',
      ...(r.sessionDurationSeconds !== null ? { duration: Math.round(r.sessionDurationSeconds * 1e9) } : {}),
    },
  };
}
