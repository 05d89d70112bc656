/**
 * What a feature gives privacy: how to export what it stores about one user and how to erase or
 * pseudonymise it inside the erasure's transaction. Privacy asks every feature that declares one.
 * @module
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { AdjustNote, IntegrityService } from '../integrity/integrity-service.ts';

/** Maps each identifier of the user (id, usernames) to the pseudonym that replaces it. */
export type PseudonymOf = (identifier: string) => string;

/** What accounts for an erasure's changes to sealed rows (tamper evidence), and the note it files. */
export interface ErasureSeals {
  integrity: Pick<IntegrityService, 'adjust' | 'adjustRemoved' | 'sealedRows'>;
  /** `{ reason: 'erasure', reference: <receipt id> }` */
  note: AdjustNote;
}

/** What a feature stores about the user (security events, change records, incidents). */
export interface PrivacyContributor {
  /** Rows for the export. */
  export(
    db: Kysely<Database>,
    userId: string,
    usernames: string[],
  ): Promise<{ securityEvents?: unknown[]; changes?: unknown[]; incidents?: unknown[] }>;
  /**
   * Removes or pseudonymises, inside the erasure's transaction `db`; returns counts. Changes to sealed
   * rows are accounted for with `seals` in the same transaction, so tamper evidence stays intact.
   */
  erase(
    db: Kysely<Database>,
    userId: string,
    usernames: string[],
    pseudonymOf: PseudonymOf,
    seals?: ErasureSeals,
  ): Promise<{
    securityEvents?: number;
    changes?: number;
    changeHistory?: number;
    incidents?: number;
    incidentHistory?: number;
    pseudonyms?: string[];
  }>;
}
