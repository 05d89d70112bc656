/**
 * Alert sinks: generic webhook (JSON signed per the Standard Webhooks specification), Slack incoming webhook, e-mail over SMTP, the log. A sink
 * makes one attempt; retries, backoff and the outbox belong to the dispatcher.
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { Transporter } from 'nodemailer';
import type { Logger } from '../config.ts';
import type { EmailSinkOptions, SinkOptions } from './alert-config.ts';

/** An alert as sinks receive it. */
export interface Alert {
  id: string;
  /** The rule that raised it (`failed_login_burst`, `new_country`, …). */
  rule: string;
  /** What it is about within the rule (a username, an IP, a change id). */
  key: string;
  severity: 'info' | 'warning' | 'error' | 'critical';
  title: string;
  message: string;
  details: Record<string, unknown>;
  /** Alerts of the same rule and key suppressed by throttling in the previous window. */
  suppressed: number;
  occurredAt: Date;
  createdAt: Date;
}

/** The outcome of one attempt. */
export type DeliveryResult = { ok: true } | { ok: false; error: string; retryAfterMs?: number | undefined };

export interface Sink {
  readonly name: string;
  readonly type: SinkOptions['type'];
  deliver(alert: Alert, deliveryId: string): Promise<DeliveryResult>;
  close(): void;
}

/**
 * Trailguard's own signature header, `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, keyed by
 * the secret string as configured. Deprecated: receivers should verify the Standard Webhooks headers
 * instead; it is still sent (unless `legacySignature: false`) so existing receivers keep working.
 */
export const SIGNATURE_HEADER = 'x-trailguard-signature';

/** The Standard Webhooks secret prefix: `whsec_` followed by the base64 of the key bytes. */
export const STANDARD_SECRET_PREFIX = 'whsec_';

/**
 * The HMAC key of a webhook secret under the Standard Webhooks scheme: a `whsec_…` secret is the
 * base64 of the key; any other secret is used as its UTF-8 bytes (what a receiver gets from
 * `new Webhook(secret, { format: 'raw' })` for an ASCII secret).
 */
export function standardWebhookKey(secret: string): Buffer {
  return secret.startsWith(STANDARD_SECRET_PREFIX)
    ? Buffer.from(secret.slice(STANDARD_SECRET_PREFIX.length), 'base64')
    : Buffer.from(secret, 'utf8');
}

/**
 * The `webhook-signature` value of the Standard Webhooks specification: `v1,` and the base64
 * HMAC-SHA256 of `"<webhook-id>.<webhook-timestamp>.<body>"`.
 */
export function signStandardWebhook(key: Buffer, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`, 'utf8').digest('base64')}`;
}

/** The webhook body: the alert as JSON. */
export function alertJson(alert: Alert): Record<string, unknown> {
  return {
    id: alert.id,
    rule: alert.rule,
    key: alert.key,
    severity: alert.severity,
    title: alert.title,
    message: alert.message,
    details: alert.details,
    suppressed: alert.suppressed,
    occurredAt: alert.occurredAt.toISOString(),
    createdAt: alert.createdAt.toISOString(),
  };
}

/** Computes the deprecated `x-trailguard-signature` value for `body` sent at `timestamp` (unix seconds). */
export function signWebhook(secret: string, body: string, timestamp: number): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

/**
 * Verifies the deprecated `x-trailguard-signature` header on the receiving side (new receivers verify
 * the Standard Webhooks headers with any Standard Webhooks library instead): the HMAC over the raw body, and a timestamp within
 * `toleranceSeconds` (replay protection). Compare against the raw body bytes, not re-serialized JSON.
 */
export function verifyWebhookSignature(
  secret: string,
  header: string | undefined | null,
  rawBody: string | Buffer,
  options: { toleranceSeconds?: number | undefined; now?: Date | undefined } = {},
): boolean {
  if (typeof header !== 'string') return false;
  const parts = new Map(
    header.split(',').map((p) => {
      const i = p.indexOf('=');
      return [p.slice(0, i).trim(), p.slice(i + 1).trim()] as const;
    }),
  );
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1');
  if (!Number.isInteger(t) || !v1 || !/^[0-9a-f]{64}$/.test(v1)) return false;
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (Math.abs(now - t) > (options.toleranceSeconds ?? 300)) return false;
  const body = typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8');
  const expected = createHmac('sha256', secret).update(`${t}.${body}`, 'utf8').digest();
  return timingSafeEqual(expected, Buffer.from(v1, 'hex'));
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: Date): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now.getTime());
}

async function post(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
  now: () => Date,
): Promise<DeliveryResult> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'trailguard-alerts', ...headers },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    // Drain the body so the connection can be reused; its content does not matter.
    await res.arrayBuffer().catch(() => undefined);
    if (res.status >= 200 && res.status < 300) return { ok: true };
    return {
      ok: false,
      error: `HTTP ${res.status}`,
      retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), now()),
    };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return { ok: false, error: `${e.name}: ${e.cause?.code ?? e.message}` };
  }
}

function emailText(alert: Alert): string {
  const lines = [
    alert.message,
    '',
    `Rule:      ${alert.rule}`,
    `Key:       ${alert.key}`,
    `Severity:  ${alert.severity}`,
    `Occurred:  ${alert.occurredAt.toISOString()}`,
  ];
  if (alert.suppressed > 0) lines.push(`Suppressed since the previous alert: ${alert.suppressed}`);
  lines.push('', 'Details:', JSON.stringify(alert.details, null, 2), '', `Alert id: ${alert.id}`);
  return lines.join('\n');
}

function createTransport(options: EmailSinkOptions, timeoutMs: number): Transporter {
  const smtp = options.smtp;
  return nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure ?? false,
    requireTLS: smtp.requireTLS ?? false,
    ...(smtp.auth ? { auth: { user: smtp.auth.user, pass: smtp.auth.pass } } : {}),
    ...(smtp.allowSelfSigned ? { tls: { rejectUnauthorized: false } } : {}),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  });
}

/** Builds the sink objects from validated options. */
export function createSink(
  options: SinkOptions & { name: string },
  deps: { timeoutMs: number; logger: Logger; now: () => Date },
): Sink {
  const { timeoutMs, logger, now } = deps;
  switch (options.type) {
    case 'webhook': {
      const key = options.secret ? standardWebhookKey(options.secret) : null;
      return {
        name: options.name,
        type: 'webhook',
        deliver(alert, deliveryId) {
          const body = JSON.stringify(alertJson(alert));
          // The attempt's time, not the alert's: a retry is signed afresh so receivers can refuse replays.
          const timestamp = Math.floor(now().getTime() / 1000);
          // The delivery id is the outbox row's, the same on every retry of this alert to this sink:
          // the receiver's idempotency key.
          const headers: Record<string, string> = {
            ...options.headers,
            'webhook-id': deliveryId,
            'webhook-timestamp': String(timestamp),
            'x-trailguard-delivery': deliveryId,
            'x-trailguard-alert': alert.id,
            'x-trailguard-rule': alert.rule,
          };
          if (key && options.secret) {
            headers['webhook-signature'] = signStandardWebhook(key, deliveryId, timestamp, body);
            if (options.legacySignature !== false)
              headers[SIGNATURE_HEADER] = signWebhook(options.secret, body, timestamp);
          }
          return post(options.url, body, headers, timeoutMs, now);
        },
        close() {},
      };
    }
    case 'slack':
      return {
        name: options.name,
        type: 'slack',
        deliver(alert) {
          const icon =
            alert.severity === 'critical' || alert.severity === 'error' ? ':rotating_light:' : ':warning:';
          const suppressed = alert.suppressed > 0 ? ` (+${alert.suppressed} suppressed)` : '';
          // Slack mrkdwn: escape the three control characters in attacker-influenced text.
          const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
          const text = `${icon} *${esc(alert.title)}*${suppressed}\n${esc(alert.message)}\n_rule ${alert.rule} · ${alert.severity} · ${alert.occurredAt.toISOString()}_`;
          return post(options.url, JSON.stringify({ text }), {}, timeoutMs, now);
        },
        close() {},
      };
    case 'email': {
      let transport: Transporter | null = null;
      return {
        name: options.name,
        type: 'email',
        async deliver(alert, deliveryId) {
          transport ??= createTransport(options, timeoutMs);
          try {
            await transport.sendMail({
              from: options.from,
              to: options.to,
              subject: `[Trailguard] ${alert.severity}: ${alert.title.replace(/[\r\n]+/g, ' ')}`,
              text: emailText(alert),
              // The same delivery retried keeps its Message-ID, so mail clients can spot a duplicate.
              messageId: `<${deliveryId}@trailguard>`,
              headers: { 'X-Trailguard-Alert': alert.id, 'X-Trailguard-Rule': alert.rule },
            });
            return { ok: true };
          } catch (err) {
            const e = err as Error & { code?: string; responseCode?: number };
            return {
              ok: false,
              error: `${e.code ?? e.name}${e.responseCode ? ` ${e.responseCode}` : ''}: ${e.message}`,
            };
          }
        },
        close() {
          transport?.close();
          transport = null;
        },
      };
    }
    case 'log':
      return {
        name: options.name,
        type: 'log',
        async deliver(alert) {
          logger.warn({ alert: alertJson(alert) }, `trailguard alert: ${alert.title}`);
          return { ok: true };
        },
        close() {},
      };
  }
}
