/**
 * Trailguard: a security audit trail for Node.js services.
 * @module
 */
export { createTrailguard } from './trailguard.ts';
export type { Trailguard } from './trailguard.ts';
export type { TrailguardOptions, Logger } from './config.ts';
export { TrailguardError, isTrailguardError, errorCodes } from './domain/errors.ts';
export { manualClock, systemClock } from './domain/clock.ts';
export type { Clock } from './domain/clock.ts';
export { LOGIN_TYPES, DEVICE_TYPES } from './domain/login.ts';
export type {
  LoginRecord,
  LoginType,
  DeviceType,
  RecordLoginInput,
  RecordLogoutInput,
  ListLoginsQuery,
  FailedLoginsQuery,
  Page,
  RequestLike,
} from './domain/login.ts';
export type { LoginService } from './logins/login-service.ts';
export type { TrustProxy } from './enrich/client-ip.ts';
export type { GeoConfig } from './enrich/geo.ts';
export { GEO_ATTRIBUTION } from './enrich/geo.ts';
