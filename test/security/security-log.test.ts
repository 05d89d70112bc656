/**
 * The security log: one JSON line per event, and the lines of a committed batch as one write to the
 * destination (one system call for a descriptor), in order, each still a whole line; the ECS, OTel and
 * seed shapes of a line.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecurityLog } from '../../src/security/security-log.ts';
import type { SecurityLogLine } from '../../src/security/security-log.ts';
import { isTrailguardError } from '../../src/domain/errors.ts';
import { AsyncLocalStorage } from 'node:async_hooks';
import { ROOT_CONTEXT, context, trace } from '@opentelemetry/api';
import type { Context, ContextManager } from '@opentelemetry/api';
import { EVENT_CATEGORY, SECURITY_EVENT_TYPES, SEVERITIES } from '../../src/domain/security-event.ts';
import { resolveConfig } from '../../src/config.ts';
import { createTrailguard } from '../../src/index.ts';
import { ecsErrors } from '../helpers/siem-schemas.ts';

function line(i: number, severity: SecurityLogLine['severity'] = 'info'): SecurityLogLine {
  return {
    timestamp: new Date(Date.UTC(2026, 4, 10, 8, 0, i)),
    severity,
    message: `event ${i}\nforged: line`,
    type: 'login_success',
    category: 'authentication',
    id: `id-${i}`,
    username: `user${i}\r\n{"level":"CRITICAL"}`,
    location: { file: 'src/app.ts', line: i, function: null },
    context: {},
  };
}

function recorder() {
  const chunks: string[] = [];
  return { chunks, stream: { write: (c: string) => chunks.push(c) } };
}

describe('security log writes', () => {
  it('writes one line per event', () => {
    const r = recorder();
    const log = createSecurityLog({ destination: r.stream, format: 'seed' });
    log.write(line(1));
    log.write(line(2, 'warning'));
    assert.equal(r.chunks.length, 2);
    const parsed = r.chunks.map((c) => JSON.parse(c) as Record<string, unknown>);
    assert.deepEqual(
      parsed.map((p) => p['level']),
      ['INFO', 'WARNING'],
    );
  });

  it("writes a batch's lines as one write, in order, each a whole JSON line", () => {
    const r = recorder();
    const log = createSecurityLog({ destination: r.stream, format: 'seed' });
    log.writeAll([line(1), line(2, 'error'), line(3, 'critical')]);
    assert.equal(r.chunks.length, 1, 'one write for the batch');
    const text = r.chunks[0] as string;
    assert.ok(text.endsWith('\n'));
    const lines = text.split('\n').slice(0, -1);
    assert.equal(lines.length, 3, 'CR/LF inside values cannot add a line');
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.deepEqual(
      parsed.map((p) => [p['level'], p['location'].line]),
      [
        ['INFO', 1],
        ['ERROR', 2],
        ['CRITICAL', 3],
      ],
    );
    assert.equal(parsed[1]?.['context'].username, 'user2\r\n{"level":"CRITICAL"}');
    // Single lines are written at once again after a batch.
    log.write(line(4));
    assert.equal(r.chunks.length, 2);
    log.writeAll([]);
    assert.equal(r.chunks.length, 2, 'an empty batch writes nothing');
  });

  it('fails at start, naming the setting, when the file cannot be written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tg-seclog-'));
    try {
      const notADirectory = join(dir, 'plain-file');
      await writeFile(notADirectory, '');
      assert.throws(
        () => createSecurityLog({ destination: join(notADirectory, 'security.log') }),
        (e: unknown) =>
          isTrailguardError(e) &&
          e.code === 'SECURITY_LOG_FAILED' &&
          (e as { field?: string }).field === 'securityLog.destination',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gets every line of every batch into a file by close()', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tg-seclog-'));
    try {
      const file = join(dir, 'security.log');
      const log = createSecurityLog({ destination: file, format: 'seed' });
      for (let b = 0; b < 50; b++) log.writeAll(Array.from({ length: 20 }, (_, i) => line(b * 20 + i)));
      log.write(line(1000));
      await log.close();
      const lines = (await readFile(file, 'utf8')).split('\n').slice(0, -1);
      assert.equal(lines.length, 1001);
      assert.deepEqual(
        lines.map((l) => (JSON.parse(l) as { location: { line: number } }).location.line),
        Array.from({ length: 1001 }, (_, i) => i),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** A failed login as the security service hands it to the log, before the line takes a format. */
function failedLogin(overrides: Partial<SecurityLogLine> = {}): SecurityLogLine {
  return {
    timestamp: new Date('2026-05-10T08:00:00.123Z'),
    severity: 'warning',
    message: 'Failed login attempt for alice@example.com',
    type: 'login_failed',
    category: 'authentication',
    id: '01967a1c-0000-7000-8000-000000000001',
    username: 'alice@example.com',
    userId: 'u-42',
    ip: '198.51.100.7',
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
    reason: 'invalid_password',
    location: { file: 'src/routes/login.ts', line: 42, function: 'handleLogin' },
    context: { failed_attempts_from_ip: 3, is_suspicious: false, country: 'DE', city: 'Berlin' },
    ...overrides,
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function one(format: 'ecs' | 'otel' | 'seed' | undefined, l: SecurityLogLine): Record<string, any> {
  const r = recorder();
  const log = createSecurityLog({ destination: r.stream, ...(format ? { format } : {}) });
  log.write(l);
  assert.equal(r.chunks.length, 1);
  return JSON.parse(r.chunks[0] as string) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe('security log formats', () => {
  it('writes ECS by default: every field is an ECS 8.11 field of the right type and allowed value', () => {
    const doc = one(undefined, failedLogin());
    assert.deepEqual(ecsErrors(doc), []);
    assert.equal(doc['@timestamp'], '2026-05-10T08:00:00.123Z');
    assert.equal(doc['log.level'], 'warning');
    assert.equal(doc['ecs.version'], '8.11.0');
    assert.equal(doc['message'], 'Failed login attempt for alice@example.com');
    assert.deepEqual(doc['event'], {
      kind: 'event',
      category: ['authentication'],
      type: ['start'],
      outcome: 'failure',
      action: 'login-failed',
      severity: 2,
      reason: 'invalid_password',
      id: '01967a1c-0000-7000-8000-000000000001',
      module: 'trailguard',
      dataset: 'trailguard.security',
    });
    assert.deepEqual(doc['user'], { name: 'alice@example.com', id: 'u-42' });
    assert.deepEqual(doc['source'], {
      ip: '198.51.100.7',
      geo: { country_iso_code: 'DE', city_name: 'Berlin' },
    });
    assert.deepEqual(doc['user_agent'], { original: 'Mozilla/5.0 (X11; Linux x86_64)' });
    assert.deepEqual(doc['log'], {
      logger: 'security.events',
      origin: { file: { name: 'src/routes/login.ts', line: 42 }, function: 'handleLogin' },
    });
    assert.deepEqual(doc['trailguard'], { context: { failed_attempts_from_ip: 3, is_suspicious: false } });
  });

  it('writes every event type and severity as valid ECS; a detection is an alert naming its rule', () => {
    for (const type of SECURITY_EVENT_TYPES) {
      for (const severity of SEVERITIES) {
        const doc = one(
          'ecs',
          failedLogin({
            type,
            severity,
            category: EVENT_CATEGORY[type],
            context: { pattern: 'brute_force' },
          }),
        );
        assert.deepEqual(ecsErrors(doc), [], `${type} ${severity}`);
      }
    }
    const signal = one(
      'ecs',
      failedLogin({
        type: 'suspicious_activity',
        severity: 'critical',
        category: 'system',
        context: { pattern: 'brute_force' },
      }),
    );
    assert.equal(signal['event'].kind, 'alert');
    assert.deepEqual(signal['rule'], { name: 'brute_force' });
    const notice = one('ecs', {
      timestamp: new Date(),
      severity: 'info',
      message: 'sealed',
      type: 'integrity_sealed',
      context: { rows: 3 },
    });
    assert.deepEqual(ecsErrors(notice), []);
  });

  it('names the user in one field whatever the value looks like, and leaves an unknown location out', () => {
    for (const format of ['ecs', 'otel', 'seed'] as const) {
      const anonymous = one(format, failedLogin({ location: { file: null, line: null, function: null } }));
      const text = JSON.stringify(anonymous);
      assert.ok(
        !text.includes('"location"') && !text.includes('"origin"') && !text.includes('code.'),
        `${format}: ${text}`,
      );
      assert.ok(!text.includes(':null'), `${format} writes no nulls for what is unknown: ${text}`);
    }
    const email = one('ecs', failedLogin({ username: 'alice@example.com' }));
    const plain = one('ecs', failedLogin({ username: 'alice' }));
    assert.equal(email['user'].name, 'alice@example.com');
    assert.equal(plain['user'].name, 'alice');
    const otelEmail = one('otel', failedLogin({ username: 'alice@example.com' }));
    const otelPlain = one('otel', failedLogin({ username: 'alice' }));
    assert.equal(otelEmail['Attributes']['user.name'], 'alice@example.com');
    assert.equal(otelPlain['Attributes']['user.name'], 'alice');
  });

  it("writes OpenTelemetry's log data model with semantic-convention attributes", () => {
    const rec = one('otel', failedLogin());
    assert.equal(rec['Timestamp'], '1778400000123000000');
    assert.equal(rec['SeverityText'], 'WARNING');
    assert.equal(rec['SeverityNumber'], 13);
    assert.equal(rec['Body'], 'Failed login attempt for alice@example.com');
    assert.equal(rec['EventName'], 'trailguard.login_failed');
    assert.equal(rec['TraceId'], undefined, 'no trace without an active span');
    assert.deepEqual(rec['Attributes'], {
      'user.name': 'alice@example.com',
      'user.id': 'u-42',
      'client.address': '198.51.100.7',
      'user_agent.original': 'Mozilla/5.0 (X11; Linux x86_64)',
      'geo.country.iso_code': 'DE',
      'geo.locality.name': 'Berlin',
      'code.file.path': 'src/routes/login.ts',
      'code.line.number': 42,
      'code.function.name': 'handleLogin',
      'trailguard.event.id': '01967a1c-0000-7000-8000-000000000001',
      'trailguard.event.category': 'authentication',
      'trailguard.reason': 'invalid_password',
      'trailguard.context': { failed_attempts_from_ip: 3, is_suspicious: false },
    });
    assert.deepEqual(
      SEVERITIES.map((severity) => one('otel', failedLogin({ severity }))['SeverityNumber']),
      [9, 13, 17, 21],
    );
  });

  it("keeps the seed's shape for parsers written against it", () => {
    const line = one('seed', failedLogin());
    assert.equal(line['level'], 'WARNING');
    assert.equal(line['logger'], 'security.events');
    assert.equal(line['context'].email, 'alice@example.com');
    assert.equal(line['context'].event_type, 'login_failed');
    assert.deepEqual(line['location'], { file: 'src/routes/login.ts', line: 42, function: 'handleLogin' });
  });

  it('refuses an unknown format, naming securityLog.format', () => {
    const bad = (e: unknown) =>
      isTrailguardError(e) &&
      e.code === 'CONFIG_INVALID' &&
      (e as { field?: string }).field === 'securityLog.format';
    assert.throws(() => createSecurityLog({ destination: recorder().stream, format: 'gelf' as 'ecs' }), bad);
    assert.throws(() => resolveConfig({ securityLog: { format: 'json' as 'ecs' } }), bad);
  });

  it('carries the trace and span that were active when the event was raised, read through @opentelemetry/api', async () => {
    // A context manager as an OpenTelemetry SDK installs one (AsyncLocalStorage underneath).
    const storage = new AsyncLocalStorage<Context>();
    const manager: ContextManager = {
      active: () => storage.getStore() ?? ROOT_CONTEXT,
      with: (ctx, fn, thisArg, ...args) => storage.run(ctx, () => fn.call(thisArg, ...args)),
      bind: (_ctx, target) => target,
      enable() {
        return this;
      },
      disable() {
        storage.disable();
        return this;
      },
    };
    assert.ok(context.setGlobalContextManager(manager));
    const lines: string[] = [];
    const tg = await createTrailguard({
      dataDir: 'memory://',
      logger: quiet,
      geo: false,
      securityLog: { destination: { write: (s: string) => lines.push(s) }, format: 'otel' },
    });
    try {
      const span = trace.wrapSpanContext({
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        spanId: '00f067aa0ba902b7',
        traceFlags: 1,
      });
      await context.with(trace.setSpan(context.active(), span), () =>
        tg.logins.record({ username: 'traced', success: false, ip: '203.0.113.5', failureReason: 'bad' }),
      );
      await tg.logins.record({ username: 'untraced', success: false, ip: '203.0.113.6' });
      await tg.logins.flush();
      const parsed = lines.map((l) => JSON.parse(l) as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
      const traced = parsed.find((p) => p['Attributes']['user.name'] === 'traced');
      const untraced = parsed.find((p) => p['Attributes']['user.name'] === 'untraced');
      assert.equal(traced?.['TraceId'], '4bf92f3577b34da6a3ce929d0e0e4736');
      assert.equal(traced?.['SpanId'], '00f067aa0ba902b7');
      assert.equal(traced?.['TraceFlags'], 1);
      assert.ok(untraced && untraced['TraceId'] === undefined);
    } finally {
      await tg.close();
      context.disable();
    }
  });
});
