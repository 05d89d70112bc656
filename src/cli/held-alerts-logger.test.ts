import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { holdAlertLines } from './held-alerts-logger.ts';

describe('the demo server log', () => {
  it('holds alert lines back until the banner is out, summarises them, then passes everything', () => {
    const lines: string[] = [];
    const inner = {
      debug: () => lines.push('debug'),
      info: () => lines.push('info'),
      warn: (_o: object, msg?: string) => lines.push(`warn ${msg ?? ''}`),
      error: () => lines.push('error'),
    };
    const log = holdAlertLines(inner);
    log.warn({ alert: { severity: 'critical' } }, 'alert 1');
    log.warn({ alert: { severity: 'critical' } }, 'alert 2');
    log.warn({ alert: { severity: 'warning' } }, 'alert 3');
    log.warn({ event: 'detection_degraded' }, 'not an alert');
    log.error({}, 'failure');
    assert.deepEqual(lines, ['warn not an alert', 'error']);
    assert.equal(
      log.release(),
      "3 alert(s) from the demo's attacks went to the log sink (2 critical, 1 warning); see Security events in the admin UI.",
    );
    log.warn({ alert: { severity: 'critical' } }, 'later alert');
    assert.deepEqual(lines, ['warn not an alert', 'error', 'warn later alert']);
  });

  it('has nothing to say when no alert was held', () => {
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    assert.equal(holdAlertLines(quiet).release(), null);
  });
});
