import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { openTrailguard } from '../../test/helpers/backends.ts';
import { startHttpReceiver } from '../../test/helpers/receivers.ts';
import type { HttpReceiver, ReceivedRequest } from '../../test/helpers/receivers.ts';
import type { Trailguard } from '../trailguard.ts';
import { resolveAlertsConfig } from './alert-config.ts';
import { verifyWebhookSignature } from './sinks.ts';

// A receiver verifies with the reference Standard Webhooks library, which checks the timestamp against
// its own wall clock: these suites run on the real clock.
const STANDARD_SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const RAW_SECRET = 'a-long-shared-secret-from-before';

function headersOf(req: ReceivedRequest): Record<string, string> {
  return Object.fromEntries(
    Object.entries(req.headers).flatMap(([k, v]) => (typeof v === 'string' ? [[k, v]] : [])),
  );
}

describe('webhook sink: Standard Webhooks signatures', () => {
  let tg: Trailguard;
  let hook: HttpReceiver;
  let legacyHook: HttpReceiver;
  let plainHook: HttpReceiver;

  before(async () => {
    [hook, legacyHook, plainHook] = await Promise.all([
      startHttpReceiver(),
      startHttpReceiver(),
      startHttpReceiver(),
    ]);
    tg = await openTrailguard('pglite', {
      geo: false,
      alerts: {
        sinks: [
          {
            type: 'webhook',
            name: 'standard',
            url: hook.url,
            secret: STANDARD_SECRET,
            legacySignature: false,
          },
          { type: 'webhook', name: 'legacy', url: legacyHook.url, secret: RAW_SECRET },
          { type: 'webhook', name: 'plain', url: plainHook.url },
        ],
        delivery: { pollIntervalMs: 60_000, initialDelayMs: 10 },
      },
    });
  });
  after(async () => {
    await tg.close();
    await Promise.all([hook.close(), legacyHook.close(), plainHook.close()]);
  });

  it('signs with a whsec_ secret so the standardwebhooks library verifies the delivery', async () => {
    const alert = await tg.alerts.raise({
      rule: 'custom_check',
      key: 'k1',
      severity: 'warning',
      title: 'Verify me',
      sinks: ['standard'],
    });
    assert.ok(alert);
    await tg.alerts.flush();
    await hook.waitFor(1);
    const req = hook.requests[0]!;
    const payload = new Webhook(STANDARD_SECRET).verify(req.body, headersOf(req)) as { id: string };
    assert.equal(payload.id, alert.id);
    const [delivery] = await tg.alerts.deliveries({ alertId: alert.id });
    assert.equal(req.headers['webhook-id'], delivery?.id);
    assert.match(req.headers['webhook-signature'] as string, /^v1,[A-Za-z0-9+/]+=*$/);
    assert.equal(req.headers['x-trailguard-signature'], undefined, 'legacySignature: false drops it');
    // A tampered body, another secret, or a changed id do not verify.
    assert.throws(
      () => new Webhook(STANDARD_SECRET).verify(req.body.replace('Verify', 'Forged'), headersOf(req)),
      WebhookVerificationError,
    );
    assert.throws(
      () => new Webhook(`whsec_${randomBytes(32).toString('base64')}`).verify(req.body, headersOf(req)),
      WebhookVerificationError,
    );
    assert.throws(
      () => new Webhook(STANDARD_SECRET).verify(req.body, { ...headersOf(req), 'webhook-id': 'another-id' }),
      WebhookVerificationError,
    );
  });

  it('keeps the same webhook-id on every retry of a delivery, signing each attempt afresh', async () => {
    hook.script.push({ status: 503, headers: { 'retry-after': '0' } });
    const before = hook.requests.length;
    const alert = await tg.alerts.raise({
      rule: 'custom_check',
      key: 'k2',
      severity: 'error',
      title: 'Retried',
      sinks: ['standard'],
    });
    assert.ok(alert);
    await tg.alerts.flush();
    await hook.waitFor(before + 2);
    const [first, second] = hook.requests.slice(before);
    assert.ok(first && second);
    assert.equal(first.headers['webhook-id'], second.headers['webhook-id']);
    const [delivery] = await tg.alerts.deliveries({ alertId: alert.id });
    assert.equal(delivery?.status, 'delivered');
    assert.equal(delivery?.attempts, 2);
    assert.equal(second.headers['webhook-id'], delivery.id);
    for (const req of [first, second]) new Webhook(STANDARD_SECRET).verify(req.body, headersOf(req));
    // A different alert is a different delivery: a different id.
    assert.notEqual(hook.requests[0]!.headers['webhook-id'], first.headers['webhook-id']);
  });

  it('signs with any other secret as raw bytes, and still sends the deprecated header', async () => {
    const alert = await tg.alerts.raise({
      rule: 'custom_check',
      key: 'k3',
      severity: 'info',
      title: 'Old receiver',
      sinks: ['legacy'],
    });
    assert.ok(alert);
    await tg.alerts.flush();
    await legacyHook.waitFor(1);
    const req = legacyHook.requests[0]!;
    new Webhook(RAW_SECRET, { format: 'raw' }).verify(req.body, headersOf(req));
    assert.ok(verifyWebhookSignature(RAW_SECRET, req.headers['x-trailguard-signature'] as string, req.body));
    assert.equal(
      verifyWebhookSignature('another-secret', req.headers['x-trailguard-signature'] as string, req.body),
      false,
    );
  });

  it('sends webhook-id and webhook-timestamp but no signature without a secret', async () => {
    await tg.alerts.raise({
      rule: 'custom_check',
      key: 'k4',
      severity: 'info',
      title: 'x',
      sinks: ['plain'],
    });
    await tg.alerts.flush();
    await plainHook.waitFor(1);
    const req = plainHook.requests[0]!;
    assert.match(req.headers['webhook-id'] as string, /^[0-9a-f-]{36}$/);
    assert.ok(Math.abs(Number(req.headers['webhook-timestamp']) - Date.now() / 1000) < 60);
    assert.equal(req.headers['webhook-signature'], undefined);
    assert.equal(req.headers['x-trailguard-signature'], undefined);
  });
});

describe('webhook sink configuration', () => {
  const config = (secret: unknown, extra: Record<string, unknown> = {}) =>
    resolveAlertsConfig({ sinks: [{ type: 'webhook', url: 'https://example.test/hook', secret, ...extra }] });

  it('accepts a whsec_ secret of 24 to 64 bytes and any other non-empty string', () => {
    config(`whsec_${randomBytes(24).toString('base64')}`);
    config(`whsec_${randomBytes(64).toString('base64')}`);
    config('plain-secret');
  });

  it('refuses a whsec_ secret that is too short, too long or not base64, naming the key', () => {
    for (const secret of [
      `whsec_${randomBytes(16).toString('base64')}`,
      `whsec_${randomBytes(65).toString('base64')}`,
      'whsec_not base64!',
    ])
      assert.throws(
        () => config(secret),
        (err: { code?: string; field?: string }) =>
          err.code === 'CONFIG_INVALID' && err.field === 'alerts.sinks[0].secret',
        secret,
      );
  });

  it('refuses a legacySignature that is not a boolean', () => {
    assert.throws(
      () => config('plain-secret', { legacySignature: 'no' }),
      (err: { field?: string }) => err.field === 'alerts.sinks[0].legacySignature',
    );
  });
});
