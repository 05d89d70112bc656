/**
 * The database's tables as Kysely sees them. Column names are snake_case as in SQL; repositories map
 * rows to the camelCase public records.
 * @module
 */
import type { ColumnType } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type Json = ColumnType<Record<string, unknown>, string, string>;

export interface LoginHistoryTable {
  id: string;
  user_id: string | null;
  username: string;
  login_type: string;
  success: boolean;
  failure_reason: string | null;
  ip_address: string | null;
  user_agent: string | null;
  browser: string | null;
  browser_version: string | null;
  os: string | null;
  device_type: string;
  country: string | null;
  city: string | null;
  latitude: number | null;
  longitude: number | null;
  geo_accuracy_km: number | null;
  session_key_hash: string | null;
  login_at: Timestamp;
  logout_at: Timestamp | null;
  session_duration_seconds: number | null;
  metadata: Json;
  /** Severity of the login's own event (login_success / login_failed); NULL: no event in the view. */
  event_severity: string | null;
  /** That event's context beyond what the view derives from the row; NULL when there is none. */
  event_context: Json | null;
}

/** Counts per hour × outcome × type × device × country, maintained with every insert. */
export interface LoginRollupHourlyTable {
  hour: Timestamp;
  success: boolean;
  login_type: string;
  device_type: string;
  /** '' when unknown. */
  country: string;
  /** Concurrent batches add their counts under different shards; readers sum over them. */
  shard: number;
  count: number;
}

/** Like LoginRollupHourlyTable, per UTC day. */
export interface LoginRollupDailyTable {
  day: Timestamp;
  success: boolean;
  login_type: string;
  device_type: string;
  country: string;
  shard: number;
  count: number;
}

/** Which monthly partitions exist (see partitions.ts). */
export interface PartitionCatalogTable {
  parent: string;
  name: string;
  range_start: Timestamp;
  range_end: Timestamp;
}

/** One raised alert (after throttling). */
export interface AlertTable {
  id: string;
  rule: string;
  alert_key: string;
  severity: string;
  title: string;
  message: string;
  details: Json;
  suppressed: number;
  occurred_at: Timestamp;
  created_at: Timestamp;
}

/** One delivery of an alert to one sink; rows survive a restart (at-least-once delivery). */
export interface AlertOutboxTable {
  id: string;
  alert_id: string;
  sink: string;
  status: ColumnType<string, string | undefined, string>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: Timestamp;
  last_error: string | null;
  created_at: Timestamp;
  delivered_at: Timestamp | null;
}

/** Throttle window per rule and key, with the count of alerts suppressed in it. */
export interface AlertThrottleTable {
  rule: string;
  alert_key: string;
  window_start: Timestamp;
  window_end: Timestamp;
  suppressed: number;
}

/** Receipts of retention runs and erasures. */
export interface ComplianceReceiptTable {
  id: string;
  kind: string;
  subject: string | null;
  requested_by: string | null;
  reason: string | null;
  created_at: Timestamp;
  body: Json;
}

/** Server API keys; only the SHA-256 of the key is stored. */
export interface ApiKeysTable {
  id: string;
  name: string;
  scope: string;
  key_hash: string;
  key_prefix: string;
  created_at: Timestamp;
  created_by: string | null;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

/** Admin users of the server and UI; passwords are scrypt hashes. */
export interface AdminUsersTable {
  id: string;
  username: string;
  password_hash: string;
  created_at: Timestamp;
  password_changed_at: Timestamp;
  disabled_at: Timestamp | null;
}

/** Admin cookie sessions, keyed by the SHA-256 of the session key. */
export interface AdminSessionsTable {
  id_hash: string;
  user_id: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  last_seen_at: Timestamp;
}

/** Short-lived tokens that let one end user read their own login history. */
export interface ViewerTokensTable {
  token_hash: string;
  user_id: string;
  issued_by: string;
  created_at: Timestamp;
  expires_at: Timestamp;
}

/** Stored first results of requests sent with an Idempotency-Key. */
export interface IdempotencyKeysTable {
  principal: string;
  key: string;
  request_hash: string;
  status_code: number | null;
  response: ColumnType<unknown, string | null, string | null> | null;
  created_at: Timestamp;
  /** While set and in the future, a running request holds the key; after it, a retry may take over. */
  locked_until: Timestamp | null;
}

/** One stored item of a keyed ingestion request, written in the item's own statement. */
export interface IdempotencyItemsTable {
  principal: string;
  key: string;
  item: number;
  record_id: string;
  created_at: Timestamp;
}

/**
 * One security event. `security_events` is a view: the rows of `security_event_rows` (partitioned by
 * month on occurred_at) and the login events stored inline in `login_history` (migration 0009).
 */
export interface SecurityEventsTable {
  id: string;
  event_type: string;
  category: string;
  severity: string;
  occurred_at: Timestamp;
  username: string | null;
  user_id: string | null;
  ip_address: string | null;
  user_agent: string | null;
  reason: string | null;
  context: Json;
}

/** Secrets shared by every process (the detection HMAC key). */
export interface SecuritySecretTable {
  name: string;
  value: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

/** One production change (see src/domain/change.ts for the meaning of each column). */
export interface ChangeLogTable {
  id: string;
  change_type: string;
  title: string;
  description: string | null;
  version: string | null;
  impact_level: string;
  affected_systems: ColumnType<string[], string, string>;
  change_request_id: string | null;
  approval_status: string;
  approved_by_id: string | null;
  approved_by_name: string | null;
  approved_at: Timestamp | null;
  performed_by_id: string;
  performed_by_name: string;
  deployed_at: Timestamp;
  can_rollback: boolean;
  rollback_instructions: string | null;
  rolled_back: boolean;
  rolled_back_at: Timestamp | null;
  rolled_back_by_id: string | null;
  rolled_back_by_name: string | null;
  rollback_notes: string | null;
  rollback_forced: boolean;
  testing_notes: string | null;
  validation_status: string;
  documentation_url: string | null;
  ticket: string | null;
  git_commit: string | null;
  git_branch: string | null;
  git_committed_at: Timestamp | null;
  environment: string;
  metadata: Json;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** Append-only: one row per created change, transition or edited field. */
export interface ChangeLogHistoryTable {
  id: string;
  seq: ColumnType<number, never, never>;
  change_id: string;
  at: Timestamp;
  actor_id: string;
  actor_name: string;
  action: string;
  field: string | null;
  old_value: ColumnType<unknown, string | null, never>;
  new_value: ColumnType<unknown, string | null, never>;
  note: string | null;
}

/** The tamper-evidence hash chain (src/integrity): seals of row ranges and adjustments to them. */
export interface IntegritySealTable {
  seq: number;
  stream: string;
  kind: string;
  from_id: string;
  to_id: string;
  row_count: number;
  digest: string;
  algorithm: string;
  key_check: string | null;
  adjusts: number | null;
  reason: string | null;
  reference: string | null;
  prev: string;
  hash: string;
  created_at: Timestamp;
}

/** All tables. Feature modules add theirs here. */
export interface Database {
  login_history: LoginHistoryTable;
  login_rollup_hourly: LoginRollupHourlyTable;
  login_rollup_daily: LoginRollupDailyTable;
  trailguard_partition: PartitionCatalogTable;
  alert: AlertTable;
  alert_outbox: AlertOutboxTable;
  alert_throttle: AlertThrottleTable;
  compliance_receipt: ComplianceReceiptTable;
  api_keys: ApiKeysTable;
  admin_users: AdminUsersTable;
  admin_sessions: AdminSessionsTable;
  viewer_tokens: ViewerTokensTable;
  idempotency_keys: IdempotencyKeysTable;
  idempotency_items: IdempotencyItemsTable;
  security_events: SecurityEventsTable;
  security_event_rows: SecurityEventsTable;
  /** View: the login events stored in login_history rows. */
  login_events: SecurityEventsTable;
  security_secret: SecuritySecretTable;
  change_log: ChangeLogTable;
  change_log_history: ChangeLogHistoryTable;
  integrity_seal: IntegritySealTable;
}
