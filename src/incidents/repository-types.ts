/**
 * The shapes of incidents' storage: its tables (migration 0015), the rows and facts the repository
 * hands back, and the repository's interface. `repository.ts` holds the SQL.
 * @module
 */
import type { ColumnType, Selectable } from 'kysely';
import type { Person } from '../domain/change.ts';
import type {
  Incident,
  IncidentAction,
  IncidentHistoryEntry,
  IncidentLinkRole,
  IncidentSeverity,
  IncidentStatus,
} from './schema.ts';

type Timestamp = ColumnType<Date, Date | string, Date | string>;

/** The tables this feature owns (migration 0015). */
export type IncidentTables = {
  incident: {
    id: string;
    title: string;
    description: string | null;
    severity: string;
    status: string;
    environment: string;
    affected_systems: ColumnType<string[], string, string>;
    started_at: Timestamp;
    detected_at: Timestamp;
    resolved_at: Timestamp | null;
    opened_by_id: string;
    opened_by_name: string;
    resolved_by_id: string | null;
    resolved_by_name: string | null;
    resolution: string | null;
    created_at: Timestamp;
    updated_at: Timestamp;
  };
  incident_change: { incident_id: string; change_id: string; role: string; linked_at: Timestamp };
  incident_history: {
    id: string;
    seq: ColumnType<number, never, never>;
    incident_id: string;
    at: Timestamp;
    actor_id: string;
    actor_name: string;
    action: string;
    details: ColumnType<Record<string, unknown>, string, never>;
    note: string | null;
  };
};

export type IncidentRow = Selectable<IncidentTables['incident']>;
export type HistoryRow = Selectable<IncidentTables['incident_history']>;

/** The incident's own columns (links are separate rows). */
export type IncidentRecord = Omit<Incident, 'causes' | 'remedy'>;

export interface IncidentFilter {
  status?: IncidentStatus | undefined;
  severity?: IncidentSeverity | undefined;
  environment?: string | undefined;
  changeId?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  /** Keyset position: rows strictly older than this (startedAt, id). */
  before?: { at: Date; id: string } | undefined;
}

export interface NewIncidentHistoryRow {
  id: string;
  incidentId: string;
  at: Date;
  by: Person;
  action: IncidentAction;
  details: Record<string, unknown>;
  note: string | null;
}

/** One deployment in a DORA window, with what became of it. */
export interface DeploymentFact {
  id: string;
  environment: string;
  systems: string[];
  deployedAt: Date;
  leadTimeHours: number | null;
  causedIncident: boolean;
  rolledBackAt: Date | null;
  /** When the first change reverting its commit was deployed, or null. */
  revertedAt: Date | null;
}

/** One resolved or open incident in a DORA window. */
export interface IncidentFact {
  id: string;
  environment: string;
  /** The incident's systems and its causes' systems. */
  systems: string[];
  startedAt: Date;
  resolvedAt: Date | null;
}

export interface IncidentTx {
  lock(id: string): Promise<IncidentRecord | null>;
  insert(incident: IncidentRecord): Promise<void>;
  saveResolution(incident: IncidentRecord): Promise<void>;
  /** The ids among `ids` that exist as changes, locked against removal until the transaction ends. */
  existingChanges(ids: string[]): Promise<Set<string>>;
  links(incidentId: string): Promise<{ changeId: string; role: IncidentLinkRole }[]>;
  insertLinks(
    incidentId: string,
    links: { changeId: string; role: IncidentLinkRole }[],
    at: Date,
  ): Promise<void>;
  appendHistory(rows: NewIncidentHistoryRow[]): Promise<void>;
}

export interface IncidentRepository {
  transaction<T>(fn: (tx: IncidentTx) => Promise<T>): Promise<T>;
  get(id: string): Promise<Incident | null>;
  history(id: string): Promise<IncidentHistoryEntry[]>;
  /** Newest first by (startedAt, id). */
  find(filter: IncidentFilter, limit: number): Promise<Incident[]>;
  deploymentFacts(from: Date, to: Date, environment: string | undefined): Promise<DeploymentFact[]>;
  incidentFacts(from: Date, to: Date, environment: string | undefined): Promise<IncidentFact[]>;
}
