/**
 * `serve --demo` seeds a month of attacks, and the alert outbox delivers their alerts to the log sink
 * as soon as the server opens: a first run would show a screen of JSON warnings before the admin URL
 * and look broken. This logger holds the alert lines back until the banner is out, then the server
 * prints one summary line instead; everything else, and every alert after that, passes straight through.
 * @module
 */
import type { Logger } from '../domain/logger.ts';

export interface HeldAlertsLogger extends Logger {
  /** Stops holding; returns the summary of what was held (null when nothing was). */
  release(): string | null;
}

export function holdAlertLines(inner: Logger): HeldAlertsLogger {
  let holding = true;
  const held = new Map<string, number>();
  return {
    debug: (obj, msg) => inner.debug(obj, msg),
    info: (obj, msg) => inner.info(obj, msg),
    error: (obj, msg) => inner.error(obj, msg),
    warn(obj, msg) {
      const alert = (obj as { alert?: { severity?: unknown } }).alert;
      if (holding && alert && typeof alert === 'object') {
        const severity = typeof alert.severity === 'string' ? alert.severity : 'other';
        held.set(severity, (held.get(severity) ?? 0) + 1);
        return;
      }
      inner.warn(obj, msg);
    },
    release() {
      holding = false;
      if (held.size === 0) return null;
      const total = [...held.values()].reduce((a, b) => a + b, 0);
      const parts = [...held].map(([severity, n]) => `${n} ${severity}`).join(', ');
      return `${total} alert(s) from the demo's attacks went to the log sink (${parts}); see Security events in the admin UI.`;
    },
  };
}
