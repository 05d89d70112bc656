/**
 * Security events and change records → CSV, OCSF 1.3 and ECS 8 lines. The mappings are documented in
 * docs/compliance.md ("SIEM export"); change both together.
 * @module
 */
import type { Change } from '../domain/change.ts';
import type { SecurityEvent } from '../domain/security-event.ts';
import { ECS_VERSION, csvLine, ocsfMetadata } from './formats.ts';

// ---------------------------------------------------------------------------------------------------
// Security events

export const SECURITY_EVENT_CSV_COLUMNS = [
  'id',
  'occurred_at',
  'event_type',
  'category',
  'severity',
  'user_id',
  'username',
  'ip_address',
  'user_agent',
  'reason',
  'context',
] as const;

export function securityEventCsv(e: SecurityEvent): string {
  return csvLine([
    e.id,
    e.occurredAt,
    e.type,
    e.category,
    e.severity,
    e.userId,
    e.username,
    e.ipAddress,
    e.userAgent,
    e.reason,
    e.context,
  ]);
}

// Trailguard severity → OCSF severity_id / name.
const OCSF_SEVERITY: Record<SecurityEvent['severity'], [number, string]> = {
  info: [1, 'Informational'],
  warning: [3, 'Medium'],
  error: [4, 'High'],
  critical: [5, 'Critical'],
};

// OCSF Account Change (3001) activities for the account-management events. 1.3.0 has no Unlock
// activity: unlocking is 99 Other with activity_name 'Unlock'.
const ACCOUNT_CHANGE: Partial<Record<SecurityEvent['type'], [number, string]>> = {
  account_locked: [9, 'Lock'],
  account_unlocked: [99, 'Unlock'],
  password_changed: [3, 'Password Change'],
  password_reset_requested: [4, 'Password Reset'],
  '2fa_enabled': [10, 'MFA Factor Enable'],
  '2fa_disabled': [11, 'MFA Factor Disable'],
};

function ocsfUser(e: SecurityEvent): Record<string, unknown> | undefined {
  if (e.username === null && e.userId === null) return undefined;
  return {
    ...(e.username !== null ? { name: e.username } : {}),
    ...(e.userId !== null ? { uid: e.userId } : {}),
  };
}

/**
 * A security event as OCSF: `suspicious_activity` (a detection signal) as Detection Finding (2004);
 * logins as Authentication (3002, Logon); account events as Account Change (3001);
 * `permission_denied` as Web Resource Access Activity (6004, Access Deny).
 */
export function securityEventOcsf(e: SecurityEvent): Record<string, unknown>[] {
  const [severityId, severity] = OCSF_SEVERITY[e.severity];
  const user = ocsfUser(e);
  const src = e.ipAddress ? { src_endpoint: { ip: e.ipAddress } } : {};
  const http = e.userAgent ? { http_request: { user_agent: e.userAgent } } : {};
  const base = {
    time: e.occurredAt.getTime(),
    severity_id: severityId,
    severity,
    ...(e.reason ? { message: e.reason } : {}),
    metadata: ocsfMetadata(e.id, 'security_events'),
  };
  const unmapped = { event_type: e.type, category: e.category, context: e.context };
  if (e.type === 'suspicious_activity') {
    const pattern = typeof e.context['pattern'] === 'string' ? e.context['pattern'] : 'suspicious_activity';
    return [
      {
        class_uid: 2004,
        class_name: 'Detection Finding',
        category_uid: 2,
        category_name: 'Findings',
        activity_id: 1,
        activity_name: 'Create',
        type_uid: 200401,
        type_name: 'Detection Finding: Create',
        ...base,
        status_id: 1,
        status: 'New',
        finding_info: {
          uid: e.id,
          title: e.reason ?? `Suspicious activity: ${pattern}`,
          types: [pattern],
          analytic: { name: pattern, type_id: 1, type: 'Rule' },
          ...(typeof e.context['first_seen_at'] === 'string'
            ? { first_seen_time: Date.parse(e.context['first_seen_at']) }
            : {}),
          last_seen_time: e.occurredAt.getTime(),
        },
        evidences: [{ ...src, ...(user ? { actor: { user } } : {}) }],
        ...(user ? { actor: { user } } : {}),
        ...src,
        unmapped,
      },
    ];
  }
  if (e.type === 'login_success' || e.type === 'login_failed') {
    const ok = e.type === 'login_success';
    return [
      {
        class_uid: 3002,
        class_name: 'Authentication',
        category_uid: 3,
        category_name: 'Identity & Access Management',
        activity_id: 1,
        activity_name: 'Logon',
        type_uid: 300201,
        type_name: 'Authentication: Logon',
        ...base,
        status_id: ok ? 1 : 2,
        status: ok ? 'Success' : 'Failure',
        ...(e.reason && !ok ? { status_detail: e.reason } : {}),
        user: user ?? {},
        ...src,
        ...http,
        unmapped,
      },
    ];
  }
  const account = ACCOUNT_CHANGE[e.type];
  if (account) {
    const [activityId, activity] = account;
    return [
      {
        class_uid: 3001,
        class_name: 'Account Change',
        category_uid: 3,
        category_name: 'Identity & Access Management',
        activity_id: activityId,
        activity_name: activity,
        type_uid: 300100 + activityId,
        type_name: `Account Change: ${activity}`,
        ...base,
        user: user ?? {},
        ...src,
        ...http,
        unmapped,
      },
    ];
  }
  // permission_denied
  const resource = typeof e.context['resource'] === 'string' ? e.context['resource'] : undefined;
  return [
    {
      class_uid: 6004,
      class_name: 'Web Resource Access Activity',
      category_uid: 6,
      category_name: 'Application Activity',
      activity_id: 2,
      activity_name: 'Access Deny',
      type_uid: 600402,
      type_name: 'Web Resource Access Activity: Access Deny',
      ...base,
      status_id: 2,
      status: 'Failure',
      ...(user ? { actor: { user } } : {}),
      web_resources: resource ? [{ name: resource }] : [],
      ...src,
      ...http,
      unmapped,
    },
  ];
}

// ECS categorisation per event type: [category, type, outcome].
const ECS_EVENT: Record<SecurityEvent['type'], [string[], string[], 'success' | 'failure' | 'unknown']> = {
  login_success: [['authentication'], ['start'], 'success'],
  login_failed: [['authentication'], ['start'], 'failure'],
  account_locked: [['iam'], ['user', 'change'], 'success'],
  account_unlocked: [['iam'], ['user', 'change'], 'success'],
  password_changed: [['iam'], ['user', 'change'], 'success'],
  password_reset_requested: [['iam'], ['user', 'change'], 'success'],
  '2fa_enabled': [['iam', 'authentication'], ['user', 'change'], 'success'],
  '2fa_disabled': [['iam', 'authentication'], ['user', 'change'], 'success'],
  permission_denied: [['iam'], ['denied'], 'failure'],
  suspicious_activity: [['intrusion_detection', 'authentication'], ['indicator'], 'unknown'],
};

// ECS event.severity: a number; Trailguard severity → syslog-like 1..4 scale rising with severity.
const ECS_SEVERITY: Record<SecurityEvent['severity'], number> = {
  info: 1,
  warning: 2,
  error: 3,
  critical: 4,
};

/** A security event as one ECS document; signals are `event.kind: alert`. */
export function securityEventEcs(e: SecurityEvent): Record<string, unknown>[] {
  const [category, type, outcome] = ECS_EVENT[e.type];
  const signal = e.type === 'suspicious_activity';
  const pattern = typeof e.context['pattern'] === 'string' ? e.context['pattern'] : null;
  return [
    {
      '@timestamp': e.occurredAt.toISOString(),
      ecs: { version: ECS_VERSION },
      event: {
        kind: signal ? 'alert' : 'event',
        category,
        type,
        action: e.type.replace(/_/g, '-'),
        outcome,
        severity: ECS_SEVERITY[e.severity],
        ...(e.reason ? { reason: e.reason } : {}),
        id: e.id,
        module: 'trailguard',
        dataset: 'trailguard.security_events',
      },
      ...(e.ipAddress ? { source: { ip: e.ipAddress } } : {}),
      ...(e.username !== null || e.userId !== null
        ? {
            user: {
              ...(e.username !== null ? { name: e.username } : {}),
              ...(e.userId !== null ? { id: e.userId } : {}),
            },
          }
        : {}),
      ...(e.userAgent ? { user_agent: { original: e.userAgent } } : {}),
      ...(signal && pattern ? { rule: { name: pattern }, threat: { indicator: { type: pattern } } } : {}),
      labels: { event_type: e.type, category: e.category, severity: e.severity },
      trailguard: { context: e.context },
    },
  ];
}

// ---------------------------------------------------------------------------------------------------
// Changes

export const CHANGE_CSV_COLUMNS = [
  'id',
  'deployed_at',
  'change_type',
  'title',
  'impact_level',
  'approval_status',
  'performed_by_id',
  'performed_by_name',
  'approved_by_id',
  'approved_by_name',
  'approved_at',
  'environment',
  'affected_systems',
  'version',
  'change_request_id',
  'ticket',
  'git_commit',
  'git_branch',
  'validation_status',
  'rolled_back',
  'rolled_back_at',
  'rolled_back_by_id',
  'rolled_back_by_name',
  'description',
  'metadata',
] as const;

export function changeCsv(c: Change): string {
  return csvLine([
    c.id,
    c.deployedAt,
    c.changeType,
    c.title,
    c.impactLevel,
    c.approvalStatus,
    c.performedBy.id,
    c.performedBy.name,
    c.approvedBy?.id,
    c.approvedBy?.name,
    c.approvedAt,
    c.environment,
    c.affectedSystems.join(';'),
    c.version,
    c.changeRequestId,
    c.ticket,
    c.gitCommit,
    c.gitBranch,
    c.validationStatus,
    c.rolledBack,
    c.rolledBackAt,
    c.rolledBackBy?.id,
    c.rolledBackBy?.name,
    c.description,
    c.metadata,
  ]);
}

const IMPACT_SEVERITY: Record<Change['impactLevel'], [number, string, number]> = {
  low: [2, 'Low', 1],
  medium: [3, 'Medium', 2],
  high: [4, 'High', 3],
  critical: [5, 'Critical', 4],
};

function changeCommon(c: Change): Record<string, unknown> {
  return {
    change_type: c.changeType,
    impact_level: c.impactLevel,
    approval_status: c.approvalStatus,
    approved_by: c.approvedBy,
    approved_at: c.approvedAt?.toISOString() ?? null,
    environment: c.environment,
    change_request_id: c.changeRequestId,
    ticket: c.ticket,
    git_commit: c.gitCommit,
    git_branch: c.gitBranch,
    validation_status: c.validationStatus,
    rolled_back: c.rolledBack,
    rolled_back_at: c.rolledBackAt?.toISOString() ?? null,
    rolled_back_by: c.rolledBackBy,
  };
}

/**
 * A change as OCSF Application Lifecycle (6002), activity Update (8): a production change updates the
 * affected applications. One event per change, at `deployed_at`; approval and rollback in `unmapped`.
 */
export function changeOcsf(c: Change): Record<string, unknown>[] {
  const [severityId, severity] = IMPACT_SEVERITY[c.impactLevel];
  const approved = c.approvalStatus === 'approved';
  return [
    {
      class_uid: 6002,
      class_name: 'Application Lifecycle',
      category_uid: 6,
      category_name: 'Application Activity',
      activity_id: 8,
      activity_name: 'Update',
      type_uid: 600208,
      type_name: 'Application Lifecycle: Update',
      time: c.deployedAt.getTime(),
      severity_id: severityId,
      severity,
      status_id: c.rolledBack ? 2 : 1,
      status: c.rolledBack ? 'Failure' : 'Success',
      ...(c.rolledBack ? { status_detail: 'rolled back' } : {}),
      message: c.title,
      app: {
        name: c.affectedSystems.join(', ') || c.title,
        ...(c.version ? { version: c.version } : {}),
      },
      actor: { user: { uid: c.performedBy.id, name: c.performedBy.name } },
      metadata: ocsfMetadata(c.id, 'change_log'),
      unmapped: { ...changeCommon(c), approved, affected_systems: c.affectedSystems },
    },
  ];
}

/** A change as one ECS document: `event.category: configuration`, `event.type: change`. */
export function changeEcs(c: Change): Record<string, unknown>[] {
  const [, , severity] = IMPACT_SEVERITY[c.impactLevel];
  return [
    {
      '@timestamp': c.deployedAt.toISOString(),
      ecs: { version: ECS_VERSION },
      event: {
        kind: 'event',
        category: ['configuration'],
        type: ['change'],
        action: c.changeType.replace(/_/g, '-'),
        outcome: c.rolledBack ? 'failure' : 'success',
        severity,
        id: c.id,
        module: 'trailguard',
        dataset: 'trailguard.changes',
        ...(c.ticket ? { reference: c.ticket } : {}),
      },
      message: c.title,
      user: { id: c.performedBy.id, name: c.performedBy.name },
      service: {
        name: c.affectedSystems.join(', '),
        environment: c.environment,
        ...(c.version ? { version: c.version } : {}),
      },
      labels: {
        change_type: c.changeType,
        impact_level: c.impactLevel,
        approval_status: c.approvalStatus,
        environment: c.environment,
      },
      trailguard: { change: changeCommon(c) },
    },
  ];
}
