/**
 * Finds the application code that called Trailguard, for the `location` of a security log line: the
 * first stack frame that is not Trailguard's own (its `src/` or `dist/`), not in node_modules and not
 * a Node internal.
 *
 * It reads V8's structured call sites instead of the formatted stack: formatting every frame (and,
 * with source maps enabled, mapping every frame) cost more than the rest of a log line. Only the frame
 * chosen is mapped through its source map, when source maps are enabled, so the location names the
 * original file and line as a formatted stack would.
 * @module
 */
import { findSourceMap } from 'node:module';
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
const NODE_MODULES = `${sep}node_modules${sep}`;
const NONE: CallSite = Object.freeze({ file: null, line: null, function: null });

export { captureTrace } from '../domain/trace.ts';

/**
 * Whether the application formats stacks itself (source-map-support sets `Error.prepareStackTrace`).
 * Node's own default is a function too in recent releases (`ErrorPrepareStackTrace`), undefined before.
 */
function appFormatsStacks(): boolean {
  const current = Error.prepareStackTrace;
  return typeof current === 'function' && current.name !== 'ErrorPrepareStackTrace';
}

/**
 * The trace's frames, unformatted; null when its stack was already formatted, or when the application
 * formats stacks itself: its text then names the files and lines the application expects, so that is
 * what gets read.
 */
function framesOf(trace: Error): NodeJS.CallSite[] | null {
  if (appFormatsStacks()) return null;
  const previous = Error.prepareStackTrace;
  Error.prepareStackTrace = (_err, sites) => sites;
  try {
    const frames: unknown = trace.stack;
    return Array.isArray(frames) ? (frames as NodeJS.CallSite[]) : null;
  } finally {
    Error.prepareStackTrace = previous;
  }
}

/** A frame's file as an absolute path, or null for Node internals, native code, eval and bad URLs. */
function pathOf(file: string | null | undefined): string | null {
  if (!file) return null;
  if (file.startsWith('file://')) {
    try {
      return fileURLToPath(file);
    } catch {
      return null;
    }
  }
  return isAbsolute(file) ? file : null;
}

function isOwnOrDependency(path: string): boolean {
  return path.includes(NODE_MODULES) || OWN_DIRS.some((d) => path.startsWith(d));
}

/** The name V8 prints for a frame: `fn`, or `Type.fn` for a method; null when anonymous. */
function functionName(site: NodeJS.CallSite): string | null {
  const fn = site.getFunctionName();
  if (!fn || fn === '<anonymous>') return null;
  if (site.isToplevel() || site.isConstructor()) return fn;
  const type = site.getTypeName();
  return type && type !== 'Object' && !fn.startsWith(`${type}.`) ? `${type}.${fn}` : fn;
}

function relativeToCwd(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
}

/** The first application frame of `trace`, or nulls when there is none. */
export function callSiteOf(trace: Error | undefined): CallSite {
  if (!trace) return NONE;
  const frames = framesOf(trace);
  if (!frames) return callSiteOfText(trace.stack);
  for (const site of frames) {
    if (site.isNative() || site.isEval()) continue;
    const generated = site.getFileName() ?? site.getScriptNameOrSourceURL();
    let path = pathOf(generated);
    if (path === null || isOwnOrDependency(path)) continue;
    let line = site.getLineNumber();
    // With source maps on (--enable-source-maps, or a loader such as tsx), map the chosen frame back to
    // its source, as the formatted stack would; a bundle's frame may turn out to be a dependency's.
    if (process.sourceMapsEnabled && generated && line !== null) {
      const origin = findSourceMap(generated)?.findOrigin(line, site.getColumnNumber() ?? 1);
      if (origin && 'fileName' in origin) {
        const original = pathOf(origin.fileName);
        if (original !== null) {
          if (isOwnOrDependency(original)) continue;
          path = original;
          line = origin.lineNumber;
        }
      }
    }
    return { file: relativeToCwd(path), line, function: functionName(site) };
  }
  return NONE;
}

const FRAME = /^\s*at (?:(?:async )?(.*?) \()?(.*?):(\d+):(\d+)\)?$/;

/** The same, from a stack that something formatted before Trailguard read it. */
function callSiteOfText(stack: string | undefined): CallSite {
  if (!stack) return NONE;
  for (const raw of stack.split('\n').slice(1)) {
    const m = FRAME.exec(raw);
    if (!m) continue;
    const path = pathOf(m[2]);
    if (path === null || isOwnOrDependency(path)) continue;
    const fn = m[1] && m[1] !== '<anonymous>' ? m[1].replace(/^Object\./, '') : null;
    return { file: relativeToCwd(path), line: Number(m[3]), function: fn };
  }
  return NONE;
}
