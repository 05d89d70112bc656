/**
 * Trailguard's error type and the registry of stable error codes.
 * @module
 */
import { CORE_ERROR_CODES, FEATURE_ERROR_CODES } from './error-codes.ts';
import type { ErrorCode } from './error-codes.ts';

export type { ErrorCode } from './error-codes.ts';

/** A feature's error codes: each stable code with its HTTP status and one line for the docs. */
export type ErrorCodeTable = Readonly<
  Record<string, { readonly status: number; readonly description: string }>
>;

/**
 * The core's codes (kept under this name for compatibility; the feature codes are in
 * `FEATURE_ERROR_CODES`, domain/error-codes.ts).
 */
export const ERROR_CODES = CORE_ERROR_CODES;

/** Every code with its status and description, complete from the start (domain/error-codes.ts). */
const registry = new Map<string, { status: number; description: string }>(
  Object.entries(FEATURE_ERROR_CODES),
);

/**
 * Adds codes to the registry; a code may never be registered with another meaning. Kept for the
 * server's transport codes, which still register themselves; features list theirs in
 * domain/error-codes.ts instead.
 */
export function registerErrorCodes(codes: Record<string, { status: number; description: string }>): void {
  for (const [code, def] of Object.entries(codes)) {
    const existing = registry.get(code);
    if (existing && (existing.status !== def.status || existing.description !== def.description)) {
      throw new Error(`error code ${code} is already registered with another meaning`);
    }
    registry.set(code, def);
  }
}

/** All registered error codes (core and features), for documentation and the HTTP error mapper. */
export function errorCodes(): ReadonlyMap<string, { status: number; description: string }> {
  return registry;
}

/** Options for a TrailguardError. */
export interface TrailguardErrorOptions {
  /** The offending input field, dotted (`metadata`, `trustProxy[1]`). */
  field?: string | undefined;
  /** HTTP status; defaults to the code's registered status. */
  status?: number | undefined;
  /** The underlying error. */
  cause?: unknown;
}

/** The one error type Trailguard throws: a stable `code`, an HTTP `status`, and the offending `field`. */
export class TrailguardError extends Error {
  override readonly name = 'TrailguardError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly field: string | undefined;

  constructor(code: ErrorCode, message: string, options: TrailguardErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options.field;
    this.status = options.status ?? registry.get(code)?.status ?? 500;
  }

  /** The public JSON shape, as the API returns it. */
  toJSON(): { code: ErrorCode; message: string; field?: string } {
    return this.field === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, field: this.field };
  }
}

/** Shorthand for a VALIDATION_FAILED error on one field. */
export function invalid(field: string, message: string): TrailguardError {
  return new TrailguardError('VALIDATION_FAILED', `${field}: ${message}`, { field });
}

/** True when `err` is a TrailguardError (also across duplicate package copies). */
export function isTrailguardError(err: unknown): err is TrailguardError {
  return (
    err instanceof TrailguardError ||
    (err instanceof Error && err.name === 'TrailguardError' && 'code' in err)
  );
}
