/**
 * The alerts feature's definition: rules, the delivery outbox and throttles.
 * @module
 */
import type { FeatureDefinition } from '../core/feature.ts';
import { resolveAlertsConfig } from './alert-config.ts';

export const alertsFeature: FeatureDefinition = {
  name: 'alerts',
  tables: ['alert', 'alert_outbox', 'alert_throttle'],
  config: { key: 'alerts', resolve: resolveAlertsConfig },
};
