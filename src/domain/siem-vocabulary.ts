/**
 * How Trailguard's security events read in the vocabularies SIEMs speak: ECS categorisation, OCSF and
 * OpenTelemetry severities. One table each, shared by the security log and every export, so the same
 * event carries the same category and severity whichever path it reaches a SIEM by. Pure: no I/O.
 * @module
 */
import type { SecurityEventType, Severity } from './security-event.ts';

/** The ECS version the documents and log lines follow. */
export const ECS_VERSION = '8.11.0';

/** ECS `event.kind`, `event.category`, `event.type`, `event.outcome` of one event type. */
export interface EcsCategorisation {
  kind: 'event' | 'alert';
  category: readonly string[];
  type: readonly string[];
  outcome: 'success' | 'failure' | 'unknown';
}

/**
 * Each pair of `event.category` and `event.type` is one ECS 8.11 allows (its `expected_event_types`):
 * `indicator` belongs to `threat` only, so a detection signal is an `alert` of type `info` in
 * `intrusion_detection` and `authentication`; `denied` is not an `iam` type, so a permission refusal
 * is an `iam` `info` event with outcome `failure`.
 */
export const ECS_EVENT: Readonly<Record<SecurityEventType, EcsCategorisation>> = {
  login_success: { kind: 'event', category: ['authentication'], type: ['start'], outcome: 'success' },
  login_failed: { kind: 'event', category: ['authentication'], type: ['start'], outcome: 'failure' },
  account_locked: { kind: 'event', category: ['iam'], type: ['user', 'change'], outcome: 'success' },
  account_unlocked: { kind: 'event', category: ['iam'], type: ['user', 'change'], outcome: 'success' },
  password_changed: { kind: 'event', category: ['iam'], type: ['user', 'change'], outcome: 'success' },
  password_reset_requested: {
    kind: 'event',
    category: ['iam'],
    type: ['user', 'change'],
    outcome: 'success',
  },
  '2fa_enabled': { kind: 'event', category: ['iam'], type: ['user', 'change'], outcome: 'success' },
  '2fa_disabled': { kind: 'event', category: ['iam'], type: ['user', 'change'], outcome: 'success' },
  permission_denied: { kind: 'event', category: ['iam'], type: ['info'], outcome: 'failure' },
  suspicious_activity: {
    kind: 'alert',
    category: ['intrusion_detection', 'authentication'],
    type: ['info'],
    outcome: 'unknown',
  },
};

/** ECS `event.severity` (a number rising with severity). */
export const ECS_SEVERITY: Readonly<Record<Severity, number>> = {
  info: 1,
  warning: 2,
  error: 3,
  critical: 4,
};

/**
 * OCSF `severity_id` and `severity`. A warning (a failed login, a lock) is Low, OCSF's "the user
 * decides if action is needed"; an event escalated to error (a failure that tripped a pattern) is High;
 * critical (a detection signal) is Critical. A login record's export uses the same table through the
 * base severity of `login_success` / `login_failed`.
 */
export const OCSF_SEVERITY: Readonly<Record<Severity, readonly [number, string]>> = {
  info: [1, 'Informational'],
  warning: [2, 'Low'],
  error: [4, 'High'],
  critical: [5, 'Critical'],
};

/** OpenTelemetry `SeverityNumber` (the first of each range: INFO 9, WARN 13, ERROR 17, FATAL 21). */
export const OTEL_SEVERITY_NUMBER: Readonly<Record<Severity, number>> = {
  info: 9,
  warning: 13,
  error: 17,
  critical: 21,
};

/** The severity text shared by the log formats: syslog's names, upper case. */
export const SEVERITY_TEXT: Readonly<Record<Severity, string>> = {
  info: 'INFO',
  warning: 'WARNING',
  error: 'ERROR',
  critical: 'CRITICAL',
};
