/**
 * The security event log: one JSON line per event through pino, in the seed's shape
 * `{timestamp, level, logger: "security.events", message, location, context}`. Every value is
 * JSON-escaped by pino, so CR/LF in a username cannot start a new line; long values are cut before.
 * @module
 */
import pino from 'pino';
import type { DestinationStream } from 'pino';
import { TrailguardError } from '../domain/errors.ts';
import type { Severity } from '../domain/security-event.ts';
import type { CallSite } from './call-site.ts';
import './error-codes.ts';

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
}

export interface SecurityLogLine {
  timestamp: Date;
  severity: Severity;
  message: string;
  location: CallSite;
  context: Record<string, unknown>;
}

export interface SecurityLog {
  /** False when lines are discarded, so callers can skip building them. */
  readonly enabled: boolean;
  /** Whether lines carry the caller's location. */
  readonly location: boolean;
  write(line: SecurityLogLine): void;
  close(): Promise<void>;
}

const LEVEL_OF: Record<Severity, 'info' | 'warn' | 'error' | 'fatal'> = {
  info: 'info',
  warning: 'warn',
  error: 'error',
  critical: 'fatal',
};
const LABEL: Record<string, string> = { info: 'INFO', warn: 'WARNING', error: 'ERROR', fatal: 'CRITICAL' };

/** Opens the security log. */
export function createSecurityLog(config: SecurityLogConfig = {}): SecurityLog {
  if (config.enabled === false) return { enabled: false, location: false, write() {}, close: async () => {} };
  const dest = config.destination ?? 1;
  let stream: DestinationStream;
  let boom: ReturnType<typeof pino.destination> | null = null;
  if (typeof dest === 'string' || typeof dest === 'number') {
    try {
      // A descriptor (stdout) is written synchronously so lines never interleave or reorder with other output.
      boom = pino.destination({ dest, sync: typeof dest === 'number', mkdir: typeof dest === 'string' });
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
  const logger = pino(
    {
      base: null,
      timestamp: false,
      messageKey: 'message',
      level: 'info',
      formatters: { level: (label) => ({ level: LABEL[label] ?? label.toUpperCase() }) },
    },
    stream,
  );
  return {
    enabled: true,
    location: config.location !== false,
    write(line) {
      logger[LEVEL_OF[line.severity]](
        {
          timestamp: line.timestamp.toISOString(),
          logger: 'security.events',
          location: line.location,
          context: line.context,
        },
        line.message,
      );
    },
    async close() {
      if (!boom) return;
      const b = boom;
      await new Promise<void>((resolve) => {
        try {
          b.flush((err) => {
            void err;
            resolve();
          });
        } catch {
          resolve();
        }
      });
      if (typeof config.destination === 'string') b.end();
    },
  };
}
