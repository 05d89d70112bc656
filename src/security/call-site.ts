/**
 * Finds the application code that called Trailguard, for the `location` of a security log line: the
 * first stack frame that is not Trailguard's own (its `src/` or `dist/`), not in node_modules and not
 * a Node internal.
 * @module
 */
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where in the application an event was logged from. */
export interface CallSite {
  file: string | null;
  line: number | null;
  function: string | null;
}

// This file lives in <package>/src/security or <package>/dist/security.
const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OWN_DIRS = [resolve(PACKAGE_ROOT, 'src') + sep, resolve(PACKAGE_ROOT, 'dist') + sep];

const FRAME = /^\s*at (?:(?:async )?(.*?) \()?(.*?):(\d+):(\d+)\)?$/;

/** Captures the current stack cheaply; V8 formats it only when `callSiteOf()` reads it. */
export function captureTrace(): Error {
  const previous = Error.stackTraceLimit;
  Error.stackTraceLimit = 30;
  const trace = new Error('call site');
  Error.stackTraceLimit = previous;
  return trace;
}

/** The first application frame of `trace`, or nulls when there is none. */
export function callSiteOf(trace: Error | undefined): CallSite {
  const stack = trace?.stack;
  if (!stack) return { file: null, line: null, function: null };
  for (const raw of stack.split('\n').slice(1)) {
    const m = FRAME.exec(raw);
    if (!m) continue;
    let file = m[2] ?? '';
    if (file.startsWith('file://')) {
      try {
        file = fileURLToPath(file);
      } catch {
        continue;
      }
    }
    if (!isAbsolute(file)) continue; // node:internal, native, eval
    if (file.includes(`${sep}node_modules${sep}`)) continue;
    if (OWN_DIRS.some((d) => file.startsWith(d))) continue;
    const rel = relative(process.cwd(), file);
    const fn = m[1] && m[1] !== '<anonymous>' ? m[1].replace(/^Object\./, '') : null;
    return {
      file: rel && !rel.startsWith('..') ? rel : file,
      line: Number(m[3]),
      function: fn,
    };
  }
  return { file: null, line: null, function: null };
}
