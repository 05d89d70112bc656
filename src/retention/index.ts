/**
 * The retention feature's definition. It owns the compliance receipts (its runs' and, through privacy,
 * erasures'), which are sealed like the audit tables: they prove what was removed and why.
 * @module
 */
import type { FeatureDefinition } from '../core/feature.ts';
import { RETENTION_ERROR_CODES } from './error-codes.ts';
import { resolveRetentionPolicy } from './retention-policy.ts';
import { COMPLIANCE_RECEIPT_STREAM } from './sealed-stream.ts';

export const retentionFeature: FeatureDefinition = {
  name: 'retention',
  tables: ['compliance_receipt'],
  errorCodes: RETENTION_ERROR_CODES,
  config: { key: 'retention', resolve: resolveRetentionPolicy },
  integrity: [COMPLIANCE_RECEIPT_STREAM],
};
