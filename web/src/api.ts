/**
 * The admin UI's only way to the server: its public HTTP API under /api/v1, with the session cookie
 * and the CSRF token on state-changing requests.
 * @module
 */

/** An error answer of the API (`{ error: { code, message, field? } }`), or a network failure. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;
  constructor(status: number, code: string, message: string, field?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

let csrfToken: string | null = null;
let onUnauthenticated: () => void = () => undefined;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when a request answers 401 (the session expired): the app shows the sign-in page. */
export function setUnauthenticatedHandler(fn: () => void): void {
  onUnauthenticated = fn;
}

type Query = Record<string, string | number | boolean | null | undefined>;

export function queryString(q: Query): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

export async function api<T>(
  path: string,
  init: { method?: string; body?: unknown; query?: Query; quiet401?: boolean } = {},
): Promise<T> {
  const method = init.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}${init.query ? queryString(init.query) : ''}`, {
      method,
      headers,
      credentials: 'same-origin',
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
  } catch {
    throw new ApiError(
      0,
      'NETWORK',
      'The server could not be reached. Check that trailguard serve is running.',
    );
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = (data as { error?: { code?: string; message?: string; field?: string } } | null)?.error;
    if (res.status === 401 && !init.quiet401) onUnauthenticated();
    throw new ApiError(
      res.status,
      err?.code ?? `HTTP_${res.status}`,
      err?.message ?? res.statusText,
      err?.field,
    );
  }
  return data as T;
}

// ---- types of the API's answers (docs/server.md) ----

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
  /** A search that ran out of time stopped here (older rows not searched yet). */
  searchedBack?: string;
}

export interface LoginRecord {
  id: string;
  userId: string | null;
  username: string;
  loginType: string;
  success: boolean;
  failureReason: string | null;
  ipAddress: string | null;
  userAgent: string | null;
  browser: string | null;
  browserVersion: string | null;
  os: string | null;
  deviceType: string;
  country: string | null;
  city: string | null;
  loginAt: string;
  logoutAt: string | null;
  sessionDurationSeconds: number | null;
  metadata: Record<string, unknown>;
}

export interface Dashboard {
  generatedAt: string;
  loginsPerHour: { hour: string; success: number; failure: number }[];
  successRate: { total: number; success: number; failure: number; rate: number | null };
  deviceTypes: { key: string; count: number }[];
  topFailingIps: { ip: string; count: number }[];
}

export interface Calendar {
  unit: 'year' | 'month' | 'day';
  items: { period: string; count: number | null }[];
}

export interface SecurityEvent {
  id: string;
  type: string;
  category: string;
  severity: string;
  occurredAt: string;
  username: string | null;
  userId: string | null;
  ipAddress: string | null;
  userAgent: string | null;
  reason: string | null;
  context: Record<string, unknown>;
}

export interface Signal {
  pattern: string;
  key: string;
  count: number;
  threshold: number;
  windowSeconds: number;
  firstSeenAt: string;
  [k: string]: unknown;
}

export interface Person {
  id: string;
  name: string;
}

export interface Change {
  id: string;
  changeType: string;
  title: string;
  description: string | null;
  version: string | null;
  impactLevel: string;
  affectedSystems: string[];
  changeRequestId: string | null;
  approvalStatus: string;
  approvedBy: Person | null;
  approvedAt: string | null;
  performedBy: Person;
  deployedAt: string;
  canRollback: boolean;
  rollbackInstructions: string | null;
  rolledBack: boolean;
  rolledBackAt: string | null;
  rolledBackBy: Person | null;
  rollbackNotes: string | null;
  rollbackForced: boolean;
  testingNotes: string | null;
  validationStatus: string;
  documentationUrl: string | null;
  ticket: string | null;
  gitCommit: string | null;
  gitBranch: string | null;
  gitCommittedAt: string | null;
  environment: string;
  metadata: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

export interface ChangeHistoryEntry {
  id: string;
  at: string;
  by: Person;
  action: string;
  field: string | null;
  oldValue: unknown;
  newValue: unknown;
  note: string | null;
}

export interface ChangeReport {
  from: string;
  to: string;
  total: number;
  byType: Record<string, number>;
  byImpact: Record<string, number>;
  rollbackRate: number | null;
  dora: {
    environment: string;
    deployments: number;
    deploymentFrequency: number;
    leadTimeForChangesHours: number | null;
    changeFailureRate: number | null;
    timeToRestoreHours: number | null;
  };
}

export interface SessionInfo {
  user: { id: string; username: string };
  csrfToken: string | null;
}

export const LOGIN_TYPES = ['password', 'magic_link', 'api_key', 'jwt', 'sso', 'oauth', 'passkey'];
export const DEVICE_TYPES = ['desktop', 'mobile', 'tablet', 'bot', 'unknown'];
export const EVENT_TYPES = [
  'login_success',
  'login_failed',
  'account_locked',
  'account_unlocked',
  'password_changed',
  'password_reset_requested',
  '2fa_enabled',
  '2fa_disabled',
  'permission_denied',
  'suspicious_activity',
];
export const CATEGORIES = ['authentication', 'authorization', 'account_management', 'data_access', 'system'];
export const SEVERITIES = ['info', 'warning', 'error', 'critical'];
export const CHANGE_TYPES = [
  'deployment',
  'configuration',
  'schema_change',
  'security_update',
  'infrastructure',
  'feature_flag',
  'data_migration',
  'rollback',
  'data_retention',
  'other',
];
export const IMPACT_LEVELS = ['critical', 'high', 'medium', 'low'];
export const APPROVAL_STATUSES = ['pending', 'approved', 'rejected', 'emergency'];
