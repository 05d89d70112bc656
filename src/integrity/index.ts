/**
 * The tamper evidence feature's definition: the seal chain is its table; what it seals comes from the
 * other features' `integrity` contributions.
 * @module
 */
import type { FeatureDefinition } from '../core/feature.ts';
import { INTEGRITY_ERROR_CODES } from './error-codes.ts';
import { resolveIntegrityConfig } from './integrity-config.ts';

export const integrityFeature: FeatureDefinition = {
  name: 'integrity',
  tables: ['integrity_seal'],
  errorCodes: INTEGRITY_ERROR_CODES,
  config: { key: 'integrity', resolve: resolveIntegrityConfig },
};
