/**
 * The caller's stack, captured when a public call starts (before its first await, while the caller is
 * still on the stack) and read later, only if a log line needs its `location`.
 * @module
 */

/**
 * Frames kept: Trailguard's own (the public call, an integration helper), any dependency between it
 * and the application, and the application's frame. Capturing costs about 0.7 µs per frame here,
 * whatever `Error.stackTraceLimit` the application set (30 frames cost more than the rest of a log line).
 */
export const TRACE_FRAMES = 12;

/** Captures the current stack cheaply; V8 keeps its frames unformatted until something reads them. */
export function captureTrace(): Error {
  const previous = Error.stackTraceLimit;
  Error.stackTraceLimit = TRACE_FRAMES;
  const trace = new Error('call site');
  Error.stackTraceLimit = previous;
  return trace;
}
