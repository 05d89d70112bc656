/**
 * Security events and change records → CSV, OCSF 1.3 and ECS 8 lines. The mappings are documented in
 * docs/compliance.md ("SIEM export"); change both together.
 * @module
 */
import type { Change } from '../domain/change.ts';
import type { SecurityEvent } from '../domain/security-event.ts';
import { ECS_EVENT, ECS_SEVERITY, ECS_VERSION, OCSF_SEVERITY } from '../domain/siem-vocabulary.ts';
import { AUTHENTICATED_SERVICE, csvLine, ocsfMetadata, withoutNulls } from './formats.ts';

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

const PATTERN_TITLE: Record<string, string> = {
  brute_force: 'Brute force',
  distributed_attack: 'Distributed attack on one account',
  account_enumeration: 'Account enumeration',
  new_country: 'Login from a new country',
  impossible_travel: 'Impossible travel',
};

/**
 * What a detection found, for `finding_info.title`: the pattern, its key and the count against the
 * threshold (`Brute force: 198.51.100.7, 7 failures ≥ 5 in 900 s`). The triggering login's failure
 * reason says nothing about the detection and stays out of it.
 */
export function detectionTitle(e: SecurityEvent): string {
  const c = e.context;
  const pattern = typeof c['pattern'] === 'string' ? c['pattern'] : null;
  if (pattern === null) return e.reason ? `Suspicious activity: ${e.reason}` : 'Suspicious activity';
  const name = PATTERN_TITLE[pattern] ?? pattern;
  const key = typeof c['key'] === 'string' ? `: ${c['key']}` : '';
  const count = typeof c['count'] === 'number' ? c['count'] : null;
  const threshold = typeof c['threshold'] === 'number' ? c['threshold'] : null;
  const windowSeconds = typeof c['window_seconds'] === 'number' ? c['window_seconds'] : null;
  if (pattern === 'impossible_travel' && count !== null)
    return `${name}${key}, ${count} km/h${threshold !== null ? ` > ${threshold} km/h` : ''}`;
  if (count === null || threshold === null || pattern === 'new_country') return `${name}${key}`;
  return `${name}${key}, ${count} ≥ ${threshold}${windowSeconds !== null ? ` in ${windowSeconds} s` : ''}`;
}

/**
 * A security event as OCSF: `suspicious_activity` (a detection signal) as Detection Finding (2004);
 * logins as Authentication (3002, Logon); account events as Account Change (3001);
 * `permission_denied` as API Activity (6003, by the denied action: Create / Read / Update / Delete / Other).
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
  const unmapped = withoutNulls({ event_type: e.type, category: e.category, context: e.context });
  if (e.type === 'suspicious_activity') {
    const pattern = typeof e.context['pattern'] === 'string' ? e.context['pattern'] : 'suspicious_activity';
    // Class 2004 has no endpoint or actor of its own: the address and account behind a detection are
    // its evidence (an evidence needs at least one of them).
    const evidence = { ...src, ...(user ? { actor: { user } } : {}) };
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
        message: detectionTitle(e),
        status_id: 1,
        status: 'New',
        finding_info: {
          uid: e.id,
          title: detectionTitle(e),
          types: [pattern],
          analytic: { name: pattern, type_id: 1, type: 'Rule' },
          ...(typeof e.context['first_seen_at'] === 'string'
            ? { first_seen_time: Date.parse(e.context['first_seen_at']) }
            : {}),
          last_seen_time: e.occurredAt.getTime(),
        },
        ...(Object.keys(evidence).length ? { evidences: [evidence] } : {}),
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
        service: AUTHENTICATED_SERVICE,
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
  // permission_denied: API Activity (6003), the application refusing an operation on a resource. Web
  // Resource Access Activity (6004) would need the HTTP request and has no actor to name the user.
  const resource = typeof e.context['resource'] === 'string' ? e.context['resource'] : undefined;
  const action = typeof e.context['action'] === 'string' ? e.context['action'] : undefined;
  const [activityId, activity] = API_ACTIVITY[action?.toLowerCase() ?? ''] ?? [99, action ?? 'Other'];
  return [
    {
      class_uid: 6003,
      class_name: 'API Activity',
      category_uid: 6,
      category_name: 'Application Activity',
      activity_id: activityId,
      activity_name: activity,
      type_uid: 600300 + activityId,
      type_name: `API Activity: ${activity}`,
      ...base,
      status_id: 2,
      status: 'Failure',
      actor: { user: user ?? {} },
      api: { operation: action ?? 'unknown' },
      ...(resource ? { resources: [{ name: resource }] } : {}),
      ...src,
      ...http,
      unmapped,
    },
  ];
}

// OCSF API Activity activities for the usual verbs of a permission check; others are 99 Other.
const API_ACTIVITY: Record<string, [number, string]> = {
  create: [1, 'Create'],
  read: [2, 'Read'],
  view: [2, 'Read'],
  update: [3, 'Update'],
  write: [3, 'Update'],
  edit: [3, 'Update'],
  delete: [4, 'Delete'],
};

/** A security event as one ECS document; signals are `event.kind: alert`. */
export function securityEventEcs(e: SecurityEvent): Record<string, unknown>[] {
  const { kind, category, type, outcome } = ECS_EVENT[e.type];
  const signal = kind === 'alert';
  const pattern = typeof e.context['pattern'] === 'string' ? e.context['pattern'] : null;
  return [
    {
      '@timestamp': e.occurredAt.toISOString(),
      ecs: { version: ECS_VERSION },
      event: {
        kind,
        category,
        type,
        action: e.type.replace(/_/g, '-'),
        outcome,
        severity: ECS_SEVERITY[e.severity],
        // A detection's reason is what it found, not the failure reason of the login that tripped it.
        ...(signal ? { reason: detectionTitle(e) } : e.reason ? { reason: e.reason } : {}),
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
      ...(signal && pattern ? { rule: { name: pattern } } : {}),
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
 * affected applications. One event per change, at `deployed_at`; the performer, approval and rollback
 * in `unmapped`.
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
      // OCSF's product object requires a vendor; the changed systems are the organisation's own and the
      // change log does not name their vendor.
      app: {
        name: c.affectedSystems.join(', ') || c.title,
        vendor_name: 'Unknown',
        ...(c.version ? { version: c.version } : {}),
      },
      metadata: ocsfMetadata(c.id, 'change_log'),
      // Application Lifecycle has no actor (without the host profile): who performed the change is
      // unmapped, with the approval and rollback.
      unmapped: withoutNulls({
        ...changeCommon(c),
        performed_by: c.performedBy,
        approved,
        affected_systems: c.affectedSystems,
      }),
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
