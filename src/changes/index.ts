/**
 * The change log feature's definition: its tables, error codes and its parts of retention, tamper
 * evidence and privacy.
 * @module
 */
import type { FeatureDefinition } from '../core/feature.ts';
import { CHANGE_ERROR_CODES } from './error-codes.ts';
import { changesPrivacy } from './privacy.ts';
import { changesRetention } from './retention.ts';
import { CHANGE_HISTORY_STREAM } from './sealed-stream.ts';

export const changesFeature: FeatureDefinition = {
  name: 'changes',
  tables: ['change_log', 'change_log_history'],
  errorCodes: CHANGE_ERROR_CODES,
  retention: changesRetention,
  integrity: [CHANGE_HISTORY_STREAM],
  privacy: changesPrivacy(),
};
