/**
 * The feature contract: one object per feature that says what it owns (tables, error codes, config)
 * and what it contributes to the cross-cutting features — retention targets, sealed streams, its part
 * of a privacy export or erasure. `createTrailguard` passes the registered definitions (src/features.ts)
 * to retention, integrity and privacy, which loop over them and never name a feature's table.
 *
 * The file holds types only and sits at the features' floor: each contribution's shape is defined by
 * the feature that consumes it (`retention/contract.ts`, `integrity/contract.ts`, `privacy/contract.ts`),
 * the way a plugin system's hooks are typed by the host.
 * @module
 */
import type { ErrorCodeTable } from '../domain/errors.ts';
import type { PartitionedTable } from '../store/partitions.ts';
import type { SealedStream } from '../integrity/contract.ts';
import type { PrivacyContributor } from '../privacy/contract.ts';
import type { RetentionContribution } from '../retention/contract.ts';

/** What a feature owns and contributes. Every field but `name` and `tables` is optional. */
export interface FeatureDefinition {
  /** Short lowercase name (`logins`): the feature's folder under src/. */
  readonly name: string;
  /** The tables (and views) the feature owns; only its own repository writes them. */
  readonly tables: readonly string[];
  /** Of those, the time-series tables partitioned by month (prepared at start, dropped by retention). */
  readonly partitioned?: readonly PartitionedTable[] | undefined;
  /** The error codes it raises, with their HTTP status (its `error-codes.ts`). */
  readonly errorCodes?: ErrorCodeTable | undefined;
  /** Its section of the configuration: the key and the resolver that validates it. */
  readonly config?: { readonly key: string; readonly resolve: (value: unknown) => unknown } | undefined;
  /** What retention removes of its tables, and when. */
  readonly retention?: RetentionContribution | undefined;
  /** Its sealed tables, in the order they are sealed (never reorder: the chain records the order). */
  readonly integrity?: readonly SealedStream[] | undefined;
  /** Its part of a GDPR export and erasure. */
  readonly privacy?: PrivacyContributor | undefined;
  /**
   * Slots for what the faces will mount once they take it from the definitions (today http/ and cli/
   * still register their routes and commands themselves).
   */
  readonly routes?: unknown;
  readonly cli?: unknown;
}
