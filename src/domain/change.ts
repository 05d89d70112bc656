/**
 * The production change log: the record, its enums, people, history rows and the input schemas shared
 * by the library, the HTTP API and the CLI.
 * @module
 */
import { StringEnum, Type } from './validation.ts';
import type { Static } from './validation.ts';
import type { ApprovalStatus } from './change-state.ts';
import { APPROVAL_STATUSES } from './change-state.ts';

export { APPROVAL_STATUSES };
export type { ApprovalStatus };

/** What kind of change it is. `data_retention` is written by the retention/compliance jobs. */
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
] as const;
export type ChangeType = (typeof CHANGE_TYPES)[number];

/** Assessed impact, most severe first. */
export const IMPACT_LEVELS = ['critical', 'high', 'medium', 'low'] as const;
export type ImpactLevel = (typeof IMPACT_LEVELS)[number];

/** Outcome of post-deployment validation (smoke tests, checks). */
export const VALIDATION_STATUSES = ['pending', 'passed', 'failed', 'skipped'] as const;
export type ValidationStatus = (typeof VALIDATION_STATUSES)[number];

/** Statuses a change may be logged with; `rejected` is reached only by `reject()`. */
export const INITIAL_APPROVAL_STATUSES = ['pending', 'approved', 'emergency'] as const;

/** Default `environment`. */
export const DEFAULT_ENVIRONMENT = 'production';

/** Length limits, checked at the boundary (longer input is rejected, not cut: it is the caller's own). */
export const CHANGE_LIMITS = {
  title: 300,
  shortText: 256,
  longText: 20_000,
  url: 2048,
  systems: 100,
  /** Serialized size of `metadata`. */
  metadataBytes: 16 * 1024,
} as const;

/** One of the caller's own users: a stable id and a display name. */
export interface Person {
  id: string;
  name: string;
}

/** One production change. */
export interface Change {
  id: string;
  changeType: ChangeType;
  title: string;
  description: string | null;
  /** Version deployed (`v1.2.3`). */
  version: string | null;
  impactLevel: ImpactLevel;
  affectedSystems: string[];
  /** Reference to the change request (CAB ticket, RFC). */
  changeRequestId: string | null;
  approvalStatus: ApprovalStatus;
  approvedBy: Person | null;
  /** When it was approved (at logging time when logged as approved). */
  approvedAt: Date | null;
  performedBy: Person;
  deployedAt: Date;
  canRollback: boolean;
  rollbackInstructions: string | null;
  rolledBack: boolean;
  rolledBackAt: Date | null;
  rolledBackBy: Person | null;
  /** Notes given with the rollback. */
  rollbackNotes: string | null;
  /** True when the rollback overrode `canRollback: false` with `force`. */
  rollbackForced: boolean;
  testingNotes: string | null;
  validationStatus: ValidationStatus;
  documentationUrl: string | null;
  /** Jira or any tracker's reference. */
  ticket: string | null;
  /** Lower-case hex commit hash. */
  gitCommit: string | null;
  gitBranch: string | null;
  /** Commit time of `gitCommit`, for lead time. */
  gitCommittedAt: Date | null;
  /** @default 'production' */
  environment: string;
  metadata: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

/** What a history row records. */
export const CHANGE_ACTIONS = [
  'created',
  'approved',
  'rejected',
  'rolled_back',
  'validated',
  'updated',
] as const;
export type ChangeAction = (typeof CHANGE_ACTIONS)[number];

/** One append-only history row: who changed which field of the change, when, from what to what. */
export interface ChangeHistoryEntry {
  id: string;
  changeId: string;
  at: Date;
  by: Person;
  action: ChangeAction;
  /** The field (camelCase); null on the `created` row, whose `newValue` is the whole record. */
  field: string | null;
  /** JSON value before (dates as ISO strings); null on creation. */
  oldValue: unknown;
  /** JSON value after. */
  newValue: unknown;
  /** The approval note, rejection reason, rollback or validation notes. */
  note: string | null;
}

/** A change with its history, oldest row first. */
export type ChangeWithHistory = Change & { history: ChangeHistoryEntry[] };

const PersonId = Type.Union([
  Type.String({ minLength: 1, maxLength: CHANGE_LIMITS.shortText }),
  Type.Integer(),
]);

/** A person as input: `{ id, name? }` (name defaults to the id). */
export const PersonInput = Type.Object(
  {
    id: PersonId,
    name: Type.Optional(Type.String({ maxLength: CHANGE_LIMITS.shortText })),
  },
  { additionalProperties: false },
);
export type PersonInput = Static<typeof PersonInput>;

const ShortText = Type.String({ maxLength: CHANGE_LIMITS.shortText });
const LongText = Type.String({ maxLength: CHANGE_LIMITS.longText });
const DateInput = Type.Union([Type.String(), Type.Number(), Type.Unsafe<Date>({})]);

/** The fields `update()` may change: descriptive text, never who, when, what or the approval state. */
export const EDITABLE_FIELDS = [
  'title',
  'description',
  'version',
  'affectedSystems',
  'changeRequestId',
  'rollbackInstructions',
  'testingNotes',
  'documentationUrl',
  'ticket',
  'metadata',
] as const;
export type EditableField = (typeof EDITABLE_FIELDS)[number];

const descriptive = {
  title: Type.String({ minLength: 1, maxLength: CHANGE_LIMITS.title }),
  description: Type.Union([LongText, Type.Null()]),
  version: Type.Union([ShortText, Type.Null()]),
  affectedSystems: Type.Array(Type.String({ minLength: 1, maxLength: CHANGE_LIMITS.shortText }), {
    maxItems: CHANGE_LIMITS.systems,
  }),
  changeRequestId: Type.Union([ShortText, Type.Null()]),
  rollbackInstructions: Type.Union([LongText, Type.Null()]),
  testingNotes: Type.Union([LongText, Type.Null()]),
  documentationUrl: Type.Union([Type.String({ maxLength: CHANGE_LIMITS.url }), Type.Null()]),
  ticket: Type.Union([ShortText, Type.Null()]),
  metadata: Type.Record(Type.String(), Type.Unknown()),
};

/** Input to `changes.log()` (JSON-representable; dates may also be `Date` objects in the library). */
export const LogChangeFields = Type.Object(
  {
    changeType: StringEnum(CHANGE_TYPES),
    title: descriptive.title,
    performedBy: PersonInput,
    description: Type.Optional(descriptive.description),
    version: Type.Optional(descriptive.version),
    impactLevel: Type.Optional(StringEnum(IMPACT_LEVELS)),
    affectedSystems: Type.Optional(descriptive.affectedSystems),
    changeRequestId: Type.Optional(descriptive.changeRequestId),
    approvalStatus: Type.Optional(StringEnum(INITIAL_APPROVAL_STATUSES)),
    approvedBy: Type.Optional(Type.Union([PersonInput, Type.Null()])),
    deployedAt: Type.Optional(DateInput),
    canRollback: Type.Optional(Type.Boolean()),
    rollbackInstructions: Type.Optional(descriptive.rollbackInstructions),
    testingNotes: Type.Optional(descriptive.testingNotes),
    validationStatus: Type.Optional(StringEnum(VALIDATION_STATUSES)),
    documentationUrl: Type.Optional(descriptive.documentationUrl),
    ticket: Type.Optional(descriptive.ticket),
    gitCommit: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    gitBranch: Type.Optional(Type.Union([ShortText, Type.Null()])),
    gitCommittedAt: Type.Optional(Type.Union([DateInput, Type.Null()])),
    environment: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    metadata: Type.Optional(descriptive.metadata),
  },
  { additionalProperties: false },
);

/** Input to `changes.log()`. */
export interface LogChangeInput {
  changeType: ChangeType;
  /** Brief title; required, non-empty. */
  title: string;
  /** Who made the change. */
  performedBy: PersonInput;
  description?: string | null | undefined;
  version?: string | null | undefined;
  /** @default 'medium' */
  impactLevel?: ImpactLevel | undefined;
  affectedSystems?: string[] | undefined;
  changeRequestId?: string | null | undefined;
  /**
   * `pending` (default, or `approved` when `approvedBy` is given), `approved` (with `approvedBy`, who
   * must not be the performer) or `emergency` (made before approval; approve it after the fact).
   */
  approvalStatus?: (typeof INITIAL_APPROVAL_STATUSES)[number] | undefined;
  approvedBy?: PersonInput | null | undefined;
  /** @default now */
  deployedAt?: Date | string | number | undefined;
  /** @default true */
  canRollback?: boolean | undefined;
  rollbackInstructions?: string | null | undefined;
  testingNotes?: string | null | undefined;
  /** @default 'pending' */
  validationStatus?: ValidationStatus | undefined;
  /** An http(s) URL. */
  documentationUrl?: string | null | undefined;
  ticket?: string | null | undefined;
  /** Hex commit hash (7–64 characters). */
  gitCommit?: string | null | undefined;
  gitBranch?: string | null | undefined;
  gitCommittedAt?: Date | string | number | null | undefined;
  /** @default 'production' */
  environment?: string | undefined;
  /** Any JSON object; at most 16 KiB serialized. */
  metadata?: Record<string, unknown> | undefined;
}

/** The patch `update()` takes: editable descriptive fields only. */
export const ChangePatchFields = Type.Object(
  {
    title: Type.Optional(descriptive.title),
    description: Type.Optional(descriptive.description),
    version: Type.Optional(descriptive.version),
    affectedSystems: Type.Optional(descriptive.affectedSystems),
    changeRequestId: Type.Optional(descriptive.changeRequestId),
    rollbackInstructions: Type.Optional(descriptive.rollbackInstructions),
    testingNotes: Type.Optional(descriptive.testingNotes),
    documentationUrl: Type.Optional(descriptive.documentationUrl),
    ticket: Type.Optional(descriptive.ticket),
    metadata: Type.Optional(descriptive.metadata),
  },
  { additionalProperties: false },
);
export type ChangePatch = Static<typeof ChangePatchFields>;

/** Filters for `changes.list()`. */
export interface ListChangesQuery {
  changeType?: ChangeType | undefined;
  impactLevel?: ImpactLevel | undefined;
  approvalStatus?: ApprovalStatus | undefined;
  rolledBack?: boolean | undefined;
  environment?: string | undefined;
  /** Case-insensitive substring of title, description, version, ticket or git commit. */
  search?: string | undefined;
  /** Inclusive lower bound on `deployedAt`. */
  from?: Date | string | number | undefined;
  /** Exclusive upper bound on `deployedAt`. */
  to?: Date | string | number | undefined;
  /** Page size. @default 50 (max 1000) */
  limit?: number | undefined;
  /** `nextCursor` from the previous page. */
  cursor?: string | null | undefined;
}

/**
 * DORA's four key metrics for one slice of deployments (`deployment` changes) and incidents over a
 * report window. See docs/changes.md for the definitions.
 */
export interface DoraFigures {
  /** Deployments in the window. */
  deployments: number;
  /** Deployments per day over the window. */
  deploymentFrequency: number;
  /** Median hours from `gitCommittedAt` to `deployedAt`; null when no deployment has a commit time. */
  leadTimeForChangesHours: number | null;
  /** Deployments that caused an incident, were rolled back or were reverted by a later change. */
  failedDeployments: number;
  /** failedDeployments ÷ deployments × 100 (percent); null without deployments. */
  changeFailureRate: number | null;
  /** Incidents that started in the window. */
  incidents: number;
  /**
   * Median hours to restore: incident start → resolution for resolved incidents, and deployment →
   * rollback or revert for failed deployments no incident names; null when none.
   */
  timeToRestoreHours: number | null;
}

/** DORA for one environment, overall and per service (each of `affectedSystems`). */
export interface DoraMetrics extends DoraFigures {
  /** The environment the figures are for. */
  environment: string;
  /** The same figures per service, by name. */
  byService: (DoraFigures & { service: string })[];
}

/** `changes.report()` result. */
export interface ChangeReport {
  from: Date;
  to: Date;
  /** Changes deployed in the window. */
  total: number;
  byType: Record<ChangeType, number>;
  byImpact: Record<ImpactLevel, number>;
  /** Changes per performer, most first. */
  byPerformer: { performer: Person; count: number }[];
  /** Critical and high impact changes, newest first. */
  highImpact: Change[];
  /** Percentage of changes rolled back; null when there were none. */
  rollbackRate: number | null;
  /** Critical changes not approved (pending, emergency or rejected), newest first. */
  unapprovedCritical: Change[];
  dora: DoraMetrics;
}
