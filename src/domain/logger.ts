/**
 * The logger Trailguard writes its own diagnostics to. It lives at the ground floor because every layer
 * logs; `config.ts` re-exports it for code that imported it from there.
 * @module
 */

/** The logger interface Trailguard writes its own diagnostics to (pino's shape). */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
