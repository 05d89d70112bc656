/**
 * The registered features, in order: the one list `createTrailguard` hands to retention, integrity and
 * privacy. A new feature (or audit stream) is its folder plus one line here. The order is part of the
 * behaviour: retention applies targets in it, integrity seals streams in it (the chain records that
 * order, so append, never reorder).
 * @module
 */
import { alertsFeature } from './alerts/index.ts';
import { authFeature } from './auth/index.ts';
import { changesFeature } from './changes/index.ts';
import type { FeatureDefinition } from './core/feature.ts';
import { incidentsFeature } from './incidents/index.ts';
import { integrityFeature } from './integrity/index.ts';
import { loginsFeature } from './logins/index.ts';
import { retentionFeature } from './retention/index.ts';
import { securityFeature } from './security/index.ts';
import type { PartitionedTable } from './store/partitions.ts';
import type { SealedColumns, SealedStream } from './integrity/contract.ts';
import type { Stream } from './integrity/canonical-row.ts';
import type { PrivacyContributor } from './privacy/contract.ts';
import type { RetentionContribution } from './retention/contract.ts';

/** Every feature, in registration order. */
export const FEATURES: readonly FeatureDefinition[] = [
  loginsFeature,
  securityFeature,
  changesFeature,
  retentionFeature,
  integrityFeature,
  alertsFeature,
  authFeature,
  incidentsFeature,
];

/** The month-partitioned tables of every feature. */
export function partitionedTables(features = FEATURES): PartitionedTable[] {
  return features.flatMap((f) => f.partitioned ?? []);
}

/** Every feature's retention targets. */
export function retentionTargets(features = FEATURES): RetentionContribution[] {
  return features.flatMap((f) => (f.retention ? [f.retention] : []));
}

/** Every sealed stream, in sealing order. */
export function sealedStreams(features = FEATURES): SealedStream[] {
  return features.flatMap((f) => f.integrity ?? []);
}

/** Every feature's part of a privacy export and erasure. */
export function privacyContributors(features = FEATURES): PrivacyContributor[] {
  return features.flatMap((f) => (f.privacy ? [f.privacy] : []));
}

/** Compatibility for the public `SEALED_COLUMNS` export: each sealed stream's columns by name. */
export const SEALED_COLUMNS = Object.fromEntries(sealedStreams().map((s) => [s.name, s.columns])) as Readonly<
  Record<Stream, SealedColumns>
>;
