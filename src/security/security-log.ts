/**
 * The security event log: one JSON line per event through pino, as ECS (the default), OpenTelemetry's
 * log data model or the seed's shape (see security-log-formats.ts). Every value is JSON-escaped by
 * pino, so CR/LF in a username cannot start a new line; long values are cut before.
 * @module
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import pino from 'pino';
import type { DestinationStream } from 'pino';
import { TrailguardError } from '../domain/errors.ts';
import { SEVERITIES } from '../domain/security-event.ts';
import type { Severity } from '../domain/security-event.ts';
import { LINE_FORMATS, SECURITY_LOG_FORMATS } from './security-log-formats.ts';
import type { SecurityLogFormat, SecurityLogLine, TraceIds } from './security-log-formats.ts';
import './error-codes.ts';

export type { SecurityLogFormat, SecurityLogLine, TraceIds } from './security-log-formats.ts';
export { SECURITY_LOG_FORMATS } from './security-log-formats.ts';

/** Where security log lines go. */
export interface SecurityLogConfig {
  /** Write lines at all. @default true */
  enabled?: boolean | undefined;
  /** A file path, a file descriptor (1 = stdout, 2 = stderr) or a writable stream. @default 1 (stdout) */
  destination?: string | number | { write(chunk: string): unknown } | undefined;
  /**
   * Find the application's calling file, line and function for `location`. Costs a stack trace per
   * event; a server ingesting events for remote applications has no meaningful caller and turns it off.
   * @default true
   */
  location?: boolean | undefined;
  /**
   * The line's shape: `ecs` (Elastic Common Schema 8.x field names), `otel` (OpenTelemetry's log data
   * model, with the active trace) or `seed` (the original `{level, logger, location, context}`).
   * @default 'ecs'
   */
  format?: SecurityLogFormat | undefined;
}

export interface SecurityLog {
  /** False when lines are discarded, so callers can skip building them. */
  readonly enabled: boolean;
  /** Whether lines carry the caller's location. */
  readonly location: boolean;
  /**
   * The active OpenTelemetry span's ids, read when an event is raised (the line is written later, from
   * the commit, outside the caller's context). Undefined when `@opentelemetry/api` is not installed.
   */
  readonly traceIds: (() => TraceIds | undefined) | undefined;
  write(line: SecurityLogLine): void;
  /**
   * Writes the lines of a committed batch as one write to the destination: one system call for a
   * descriptor, one chunk for a file (pino's file stream re-measures its pending chunk on every write).
   */
  writeAll(lines: Iterable<SecurityLogLine>): void;
  close(): Promise<void>;
}

const LEVEL_OF: Record<Severity, 'info' | 'warn' | 'error' | 'fatal'> = {
  info: 'info',
  warning: 'warn',
  error: 'error',
  critical: 'fatal',
};

interface TraceApi {
  trace: {
    getActiveSpan(): { spanContext(): { traceId: string; spanId: string; traceFlags: number } } | undefined;
  };
}

/**
 * Loads `@opentelemetry/api` if the application has it (an optional peer dependency: Trailguard never
 * requires it) and returns a reader of the active span's ids. The API keeps its state in a global, so
 * the application's copy and this one see the same context.
 */
function otelTraceReader(): (() => TraceIds | undefined) | undefined {
  let api: TraceApi;
  try {
    api = createRequire(import.meta.url)('@opentelemetry/api') as TraceApi;
  } catch {
    return undefined;
  }
  return () => {
    const span = api.trace.getActiveSpan();
    if (!span) return undefined;
    const c = span.spanContext();
    return { traceId: c.traceId, spanId: c.spanId, flags: c.traceFlags };
  };
}

/** Opens the security log. */
export function createSecurityLog(config: SecurityLogConfig = {}): SecurityLog {
  if (config.enabled === false)
    return {
      enabled: false,
      location: false,
      traceIds: undefined,
      write() {},
      writeAll() {},
      close: async () => {},
    };
  const formatName = config.format ?? 'ecs';
  if (!SECURITY_LOG_FORMATS.includes(formatName)) {
    throw new TrailguardError(
      'CONFIG_INVALID',
      `securityLog.format: must be one of ${SECURITY_LOG_FORMATS.join(', ')}`,
      { field: 'securityLog.format' },
    );
  }
  const shape = LINE_FORMATS[formatName];
  // pino's level labels stand for the four severities; each format names them its own way.
  const severityFields: Record<string, Record<string, unknown>> = {};
  for (const s of SEVERITIES) severityFields[LEVEL_OF[s]] = shape.severity(s);
  const dest = config.destination ?? 1;
  let stream: DestinationStream;
  let boom: ReturnType<typeof pino.destination> | null = null;
  // Set when the destination failed (the file stream reports errors as events): closing then has nothing
  // left to wait for.
  let failed = false;
  if (typeof dest === 'string' || typeof dest === 'number') {
    try {
      if (typeof dest === 'string') {
        // The stream opens the file in the background; open it once here so that a path that cannot be
        // written fails at start, naming the setting, instead of losing lines later.
        mkdirSync(dirname(dest), { recursive: true });
        closeSync(openSync(dest, 'a'));
      }
      // A descriptor (stdout) is written synchronously so lines never interleave or reorder with other output.
      boom = pino.destination({ dest, sync: typeof dest === 'number', mkdir: typeof dest === 'string' });
      boom.on('error', () => {
        failed = true;
      });
    } catch (err) {
      throw new TrailguardError(
        'SECURITY_LOG_FAILED',
        `securityLog.destination: cannot open ${String(dest)}`,
        {
          field: 'securityLog.destination',
          cause: err,
        },
      );
    }
    stream = boom;
  } else if (typeof dest === 'object' && dest !== null && typeof dest.write === 'function') {
    stream = dest as DestinationStream;
  } else {
    throw new TrailguardError(
      'CONFIG_INVALID',
      'securityLog.destination: must be a path, a file descriptor or a stream',
      {
        field: 'securityLog.destination',
      },
    );
  }
  // pino writes each formatted line here; while a batch is being written, lines are held and go out
  // together.
  const out = stream;
  let held: string[] | null = null;
  const sink = {
    write(chunk: string): boolean {
      if (held) {
        held.push(chunk);
        return true;
      }
      return out.write(chunk) as unknown as boolean;
    },
  };
  const logger = pino(
    {
      base: null,
      timestamp: false,
      messageKey: shape.messageKey,
      level: 'info',
      formatters: { level: (label) => severityFields[label] ?? {} },
    },
    sink as unknown as DestinationStream,
  );
  // Closing twice waits for the same close.
  let closing: Promise<void> | undefined;
  async function closeDestination(): Promise<void> {
    const b = boom;
    if (!b) return;
    await new Promise<void>((resolve) => {
      if (typeof config.destination === 'string') {
        if (failed) {
          resolve();
          return;
        }
        // A file: end() waits for the file to be open, writes what is pending and closes it.
        b.once('close', () => resolve());
        b.once('error', () => resolve());
        b.end();
        return;
      }
      // A descriptor (stdout) is written synchronously and stays open.
      try {
        b.flush(() => resolve());
      } catch {
        resolve();
      }
    });
  }
  function format(line: SecurityLogLine): void {
    logger[LEVEL_OF[line.severity]](shape.build(line), line.message);
  }
  return {
    enabled: true,
    location: config.location !== false,
    traceIds: formatName === 'seed' ? undefined : otelTraceReader(),
    write: format,
    writeAll(lines) {
      held = [];
      const batch = held;
      try {
        for (const line of lines) format(line);
      } finally {
        held = null;
        if (batch.length === 1) out.write(batch[0] as string);
        else if (batch.length > 1) out.write(batch.join(''));
      }
    },
    close() {
      closing ??= closeDestination();
      return closing;
    },
  };
}
