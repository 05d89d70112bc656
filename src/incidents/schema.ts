/**
 * Incidents: the record, its history rows and the input schemas (TypeBox) shared by the library, the
 * HTTP API and the CLI.
 * @module
 */
import { PersonInput } from '../domain/change.ts';
import type { Person } from '../domain/change.ts';
import { StringEnum, Type } from '../domain/validation.ts';
import type { Static } from '../domain/validation.ts';

/** How bad the failure is, most severe first (the same scale as a change's impact). */
export const INCIDENT_SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
export type IncidentSeverity = (typeof INCIDENT_SEVERITIES)[number];

/** `open` until resolved; `resolved` is final. */
export const INCIDENT_STATUSES = ['open', 'resolved'] as const;
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number];

/** How a change relates to an incident: it caused it, or it is the hotfix or revert that remedied it. */
export const INCIDENT_LINK_ROLES = ['cause', 'remedy'] as const;
export type IncidentLinkRole = (typeof INCIDENT_LINK_ROLES)[number];

/** What an incident history row records: one row per action. */
export const INCIDENT_ACTIONS = ['opened', 'linked', 'resolved'] as const;
export type IncidentAction = (typeof INCIDENT_ACTIONS)[number];

export const INCIDENT_LIMITS = { title: 300, shortText: 256, longText: 20_000, systems: 100, changes: 50 };

/** A change as seen from an incident. */
export interface LinkedChange {
  changeId: string;
  role: IncidentLinkRole;
  title: string;
  version: string | null;
  environment: string;
  deployedAt: Date;
  gitCommit: string | null;
  /**
   * `link`: linked by someone (or at opening). `revert`: recognised, not linked — a change deployed after
   * the incident started whose git commit reverts a causing change's commit.
   */
  via: 'link' | 'revert';
}

/** One production failure. */
export interface Incident {
  id: string;
  title: string;
  description: string | null;
  severity: IncidentSeverity;
  status: IncidentStatus;
  /** @default 'production' */
  environment: string;
  affectedSystems: string[];
  /** When the failure began (time to restore is measured from here). */
  startedAt: Date;
  /** When someone or something noticed it. */
  detectedAt: Date;
  resolvedAt: Date | null;
  openedBy: Person;
  resolvedBy: Person | null;
  /** The note given at resolution. */
  resolution: string | null;
  /** The changes that caused it. */
  causes: LinkedChange[];
  /** The hotfix or revert that remedied it (linked, else recognised from a revert commit), or null. */
  remedy: LinkedChange | null;
  createdAt: Date;
  updatedAt: Date;
}

/** One append-only history row: one action, who did it, when, and what it set. */
export interface IncidentHistoryEntry {
  id: string;
  incidentId: string;
  at: Date;
  by: Person;
  action: IncidentAction;
  /** What the action set, as JSON (`{ changeId, role }` for a link, `{ resolvedAt }` for a resolution). */
  details: Record<string, unknown>;
  note: string | null;
}

export type IncidentWithHistory = Incident & { history: IncidentHistoryEntry[] };

const LongText = Type.String({ maxLength: INCIDENT_LIMITS.longText });
/** Optional fields also take `undefined` (absent and undefined mean the same to every use case). */
type Loose<T> = { [K in keyof T]: object extends Pick<T, K> ? T[K] | undefined : T[K] };

const DateInput = Type.Union([Type.String({ maxLength: 64 }), Type.Number(), Type.Unsafe<Date>({})]);
const ChangeId = Type.String({ minLength: 1, maxLength: 64, description: 'A change id (UUID).' });

/** Input to `incidents.open()`. */
export const OpenIncidentFields = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: INCIDENT_LIMITS.title }),
    severity: StringEnum(INCIDENT_SEVERITIES),
    openedBy: PersonInput,
    description: Type.Optional(Type.Union([LongText, Type.Null()])),
    environment: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    affectedSystems: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: INCIDENT_LIMITS.shortText }), {
        maxItems: INCIDENT_LIMITS.systems,
      }),
    ),
    startedAt: Type.Optional(DateInput),
    detectedAt: Type.Optional(DateInput),
    causes: Type.Optional(Type.Array(ChangeId, { maxItems: INCIDENT_LIMITS.changes })),
  },
  { additionalProperties: false },
);
export type OpenIncidentInput = Loose<Static<typeof OpenIncidentFields>>;

/** Input to `incidents.resolve()`. */
export const ResolveIncidentFields = Type.Object(
  {
    by: PersonInput,
    resolvedAt: Type.Optional(DateInput),
    note: Type.Optional(Type.Union([LongText, Type.Null()])),
    remedy: Type.Optional(ChangeId),
  },
  { additionalProperties: false },
);
export type ResolveIncidentInput = Loose<Static<typeof ResolveIncidentFields>>;

/** Input to `incidents.link()`. */
export const LinkIncidentFields = Type.Object(
  {
    changeId: ChangeId,
    role: Type.Optional(StringEnum(INCIDENT_LINK_ROLES)),
    by: PersonInput,
    note: Type.Optional(Type.Union([LongText, Type.Null()])),
  },
  { additionalProperties: false },
);
export type LinkIncidentInput = Loose<Static<typeof LinkIncidentFields>>;

/** Filters for `incidents.list()`. */
export const ListIncidentsFields = Type.Object(
  {
    status: Type.Optional(StringEnum(INCIDENT_STATUSES)),
    severity: Type.Optional(StringEnum(INCIDENT_SEVERITIES)),
    environment: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    changeId: Type.Optional(ChangeId),
    from: Type.Optional(DateInput),
    to: Type.Optional(DateInput),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    cursor: Type.Optional(Type.Union([Type.String({ maxLength: 512 }), Type.Null()])),
  },
  { additionalProperties: false },
);
export type ListIncidentsQuery = Loose<Static<typeof ListIncidentsFields>>;
