/**
 * The login history feature's definition: its tables and its parts of retention and tamper evidence.
 * (Its service is `login-service.ts`; this file is what the cross-cutting features read.)
 * @module
 */
import type { FeatureDefinition } from '../core/feature.ts';
import { loginRetention } from './retention.ts';
import { LOGIN_HISTORY_STREAM } from './sealed-stream.ts';

export const loginsFeature: FeatureDefinition = {
  name: 'logins',
  tables: ['login_history', 'login_rollup_hourly', 'login_rollup_daily', 'login_events'],
  partitioned: ['login_history'],
  retention: loginRetention,
  integrity: [LOGIN_HISTORY_STREAM],
};
