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
export type { CalendarCounts, LoginService } from './logins/login-service.ts';
export type { TrustProxy } from './enrich/client-ip.ts';
export { resolveClientIp as clientIp } from './enrich/client-ip.ts';
export type { GeoConfig } from './enrich/geo.ts';
export { GEO_ATTRIBUTION } from './enrich/geo.ts';
export type {
  SecurityService,
  EventSubject,
  LogEventOptions,
  LoginFailedInput,
  PermissionDeniedInput,
  CheckResult,
  CheckInput,
} from './security/security-service.ts';
export type { SecurityLogConfig } from './security/security-log.ts';
export type { CallSite } from './security/call-site.ts';
export {
  SECURITY_EVENT_TYPES,
  SECURITY_CATEGORIES,
  SEVERITIES,
  EVENT_CATEGORY,
  BASE_SEVERITY,
  DETECTION_PATTERNS,
  DEFAULT_PATTERNS,
  severityFor,
} from './domain/security-event.ts';
export type {
  SecurityEvent,
  SecurityEventType,
  SecurityCategory,
  Severity,
  Signal,
  DetectionPattern,
  DetectionCounts,
  DetectionResult,
  DetectionSettings,
  SecurityEventQuery,
  WindowPattern,
  CheckMode,
} from './domain/security-event.ts';
export { createDetector } from './detect/detector.ts';
export type { Detector, DetectorOptions, DetectionCheck } from './detect/detector.ts';
export type { GeoLookup, GeoResult } from './enrich/geo.ts';
export {
  CHANGE_TYPES,
  IMPACT_LEVELS,
  VALIDATION_STATUSES,
  APPROVAL_STATUSES,
  EDITABLE_FIELDS,
  DEFAULT_ENVIRONMENT,
} from './domain/change.ts';
export type {
  Change,
  ChangeType,
  ImpactLevel,
  ValidationStatus,
  ApprovalStatus,
  ChangeAction,
  ChangeHistoryEntry,
  ChangeWithHistory,
  ChangePatch,
  ChangeReport,
  DoraMetrics,
  DoraFigures,
  EditableField,
  ListChangesQuery,
  LogChangeInput,
  Person,
  PersonInput,
} from './domain/change.ts';
export { APPROVAL_TRANSITIONS, nextApprovalStatus } from './domain/change-state.ts';
export type { ApprovalEvent } from './domain/change-state.ts';
export type { ChangeService, Actor } from './changes/change-service.ts';
export { CHANGE_ERROR_CODES } from './changes/error-codes.ts';
export type { ChangeErrorCode } from './changes/error-codes.ts';
export {
  INCIDENT_ACTIONS,
  INCIDENT_ERROR_CODES,
  INCIDENT_LINK_ROLES,
  INCIDENT_SEVERITIES,
  INCIDENT_STATUSES,
} from './incidents/index.ts';
export type {
  Incident,
  IncidentAction,
  IncidentHistoryEntry,
  IncidentLinkRole,
  IncidentService,
  IncidentSeverity,
  IncidentStatus,
  IncidentWithHistory,
  LinkIncidentInput,
  LinkedChange,
  ListIncidentsQuery,
  OpenIncidentInput,
  ResolveIncidentInput,
} from './incidents/index.ts';
export type {
  RetentionService,
  RetentionReceipt,
  RetentionItem,
  RetentionRunOptions,
  RetentionRunReport,
} from './retention/retention-service.ts';
export type { RetentionOptions, RetentionPolicy } from './retention/retention-policy.ts';
export { DEFAULT_RETENTION } from './retention/retention-policy.ts';
export { startRetentionSchedule } from './retention/retention-schedule.ts';
export { startChangeChecks } from './alerts/change-check-schedule.ts';
export type { RetentionSchedule } from './retention/retention-schedule.ts';
export type { ArchiveFile } from './retention/archive.ts';
export type {
  PrivacyService,
  PrivacyExport,
  ErasureReceipt,
  EraseOptions,
} from './privacy/privacy-service.ts';
export type {
  AlertService,
  RaiseAlertInput,
  AlertDelivery,
  ChangeCheckResult,
  OutboxStatus,
  DeliveryAttempt,
} from './alerts/alert-service.ts';
export type { ChangeCheckSchedule } from './alerts/change-check-schedule.ts';
export type { Alert } from './alerts/sinks.ts';
export {
  verifyWebhookSignature,
  signWebhook,
  SIGNATURE_HEADER,
  signStandardWebhook,
  standardWebhookKey,
} from './alerts/sinks.ts';
export type {
  AlertsOptions,
  AlertRulesOptions,
  RuleOptions,
  SinkOptions,
  WebhookSinkOptions,
  SlackSinkOptions,
  EmailSinkOptions,
  LogSinkOptions,
} from './alerts/alert-config.ts';
export type { ExportService, ExportOptions, ExportTable, ExportFormat } from './export/export-service.ts';
export { EXPORT_TABLES, EXPORT_FORMATS } from './export/export-service.ts';
export { STREAMS as INTEGRITY_STREAMS } from './integrity/canonical-row.ts';
export { SEALED_COLUMNS } from './features.ts';
export type { FeatureDefinition } from './core/feature.ts';
export type {
  IntegrityService,
  IntegrityHead,
  IntegrityReport,
  IntegrityProblem,
  IntegrityProblemKind,
  StreamReport,
  SealResult,
  SealedRange,
  SealedRow,
  AdjustResult,
  AdjustEntry,
  AdjustNote,
  RowSelector,
  Stream as IntegrityStream,
  VerifyOptions,
  SealStatus,
} from './integrity/integrity-service.ts';
export type { IntegrityOptions } from './integrity/integrity-config.ts';
