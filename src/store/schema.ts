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
}

/** Counts per hour × outcome × type × device × country, maintained with every insert. */
export interface LoginRollupHourlyTable {
  hour: Timestamp;
  success: boolean;
  login_type: string;
  device_type: string;
  /** '' when unknown. */
  country: string;
  count: number;
}

/** One security event (partitioned by month on occurred_at). */
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

/** All tables. Feature modules add theirs here. */
export interface Database {
  login_history: LoginHistoryTable;
  login_rollup_hourly: LoginRollupHourlyTable;
  security_events: SecurityEventsTable;
  security_secret: SecuritySecretTable;
}
