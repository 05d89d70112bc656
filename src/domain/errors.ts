/**
 * Trailguard's error type and the registry of stable error codes.
 * @module
 */

/** Every error code Trailguard raises, with the HTTP status the server maps it to. */
export const ERROR_CODES = {
  VALIDATION_FAILED: { status: 400, description: 'An input field is missing, malformed or out of range.' },
  NOT_FOUND: { status: 404, description: 'The referenced record does not exist.' },
  CONFIG_INVALID: { status: 500, description: 'The configuration is invalid; the field names the key.' },
  DATABASE_UNREACHABLE: { status: 503, description: 'The database could not be reached or opened.' },
  DATABASE_UNAVAILABLE: {
    status: 503,
    description:
      'The database is unavailable (down, restarting or unreachable); retry after the Retry-After header.',
  },
  WRITE_FAILED: { status: 503, description: 'The database did not commit the write; nothing was stored.' },
  CLOSED: { status: 503, description: 'The Trailguard instance has been closed.' },
} as const satisfies Record<string, { status: number; description: string }>;

/** Registry that feature modules extend with their own codes (see `registerErrorCodes`). */
const registry = new Map<string, { status: number; description: string }>(Object.entries(ERROR_CODES));

/** Adds a feature's error codes to the registry; a code may never be registered with another meaning. */
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
  readonly code: string;
  readonly status: number;
  readonly field: string | undefined;

  constructor(code: string, message: string, options: TrailguardErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options.field;
    this.status = options.status ?? registry.get(code)?.status ?? 500;
  }

  /** The public JSON shape, as the API returns it. */
  toJSON(): { code: string; message: string; field?: string } {
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
