import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openTrailguard } from '../helpers/backends.ts';
import { closedPort, startHttpReceiver } from '../helpers/receivers.ts';
import type { HttpReceiver } from '../helpers/receivers.ts';
import type { Trailguard } from '../../src/index.ts';
import { startServer } from './helpers.ts';
import type { TestServer } from './helpers.ts';

/** The samples of a Prometheus text exposition: `name{labels}` → value. */
export function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    samples.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return samples;
}

async function scrape(s: TestServer): Promise<Map<string, number>> {
  const res = await s.call('GET', '/metrics', { key: s.keys.read });
  assert.equal(res.status, 200);
  return parseMetrics(res.body as string);
}

describe('internal metrics listener', () => {
  let tg: Trailguard;
  let s: TestServer;
  before(async () => {
    tg = await openTrailguard('pglite');
    s = await startServer(tg, { metricsListener: { port: 0 } });
  });
  after(async () => {
    await s?.close();
    await tg?.close();
  });

  it('serves /metrics without credentials on its own loopback port, while the public one needs a read key', async () => {
    const address = s.app.trailguardMetricsListener?.address();
    assert.ok(address);
    assert.equal(address.address, '127.0.0.1');
    assert.notEqual(address.port, new URL(s.url).port);
    const internal = await fetch(`http://127.0.0.1:${address.port}/metrics`);
    assert.equal(internal.status, 200);
    assert.match(internal.headers.get('content-type') ?? '', /text\/plain/);
    assert.match(await internal.text(), /^# TYPE trailguard_logins_total counter$/m);
    assert.equal((await s.call('GET', '/metrics')).status, 401);
    assert.equal((await s.call('GET', '/metrics', { key: s.keys.ingest })).status, 403);
    assert.equal((await s.call('GET', '/metrics', { key: s.keys.read })).status, 200);
    // Nothing else is served there.
    assert.equal((await fetch(`http://127.0.0.1:${address.port}/api/v1/logins`)).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${address.port}/metrics`, { method: 'POST' })).status, 405);
  });

  it('stops with the server', async () => {
    const tg2 = await openTrailguard('pglite');
    const s2 = await startServer(tg2, { metricsListener: { port: 0, host: '127.0.0.1' } });
    const port = s2.app.trailguardMetricsListener!.address()!.port;
    assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 200);
    await s2.close();
    await tg2.close();
    await assert.rejects(fetch(`http://127.0.0.1:${port}/metrics`));
  });
});

describe('operational metrics', () => {
  let tg: Trailguard;
  let s: TestServer;
  let hook: HttpReceiver;
  before(async () => {
    hook = await startHttpReceiver();
    tg = await openTrailguard('pglite', {
      geo: false,
      // Redis on a closed port: every detection call fails and falls back to in-process state.
      redisUrl: `redis://127.0.0.1:${await closedPort()}`,
      alerts: {
        sinks: [{ type: 'webhook', name: 'soc', url: hook.url }],
        rules: { detectionSignal: { enabled: false }, detectionDegraded: { enabled: false } },
        delivery: { pollIntervalMs: 60_000 },
      },
    });
    s = await startServer(tg);
  });
  after(async () => {
    await s?.close();
    await tg?.close();
    await hook?.close();
  });

  it('counts alert deliveries by sink and outcome, their duration, and the outbox backlog', async () => {
    let m = await scrape(s);
    assert.equal(m.get('trailguard_alert_outbox_pending'), 0);
    hook.script.push({ status: 503, headers: { 'retry-after': '3600' } });
    await tg.alerts.raise({ rule: 'custom_check', key: 'k', severity: 'error', title: 'x', sinks: ['soc'] });
    await tg.alerts.flush();
    await hook.waitFor(1);
    m = await scrape(s);
    assert.equal(m.get('trailguard_alert_outbox_pending'), 1);
    assert.ok((m.get('trailguard_alert_outbox_oldest_pending_age_seconds') ?? -1) >= 0);
    assert.equal(m.get('trailguard_alert_deliveries_total{sink="soc",outcome="retry"}'), 1);
    assert.equal(m.get('trailguard_alert_deliveries_total{sink="soc",outcome="delivered"}'), undefined);
    assert.equal(m.get('trailguard_alert_delivery_duration_seconds_count{sink="soc"}'), 1);
  });

  it('reports unsealed rows per stream and the last seal time', async () => {
    await Promise.all(
      Array.from({ length: 3 }, (_, i) =>
        tg.logins.record({ username: `u${i}@example.test`, success: true, ip: '203.0.113.9' }),
      ),
    );
    let m = await scrape(s);
    assert.equal(m.get('trailguard_integrity_last_seal_timestamp_seconds'), 0);
    assert.ok((m.get('trailguard_integrity_unsealed_rows{stream="login_history"}') ?? 0) >= 3);
    await tg.integrity.seal({ settleSeconds: 0 });
    m = await scrape(s);
    const sealedAt = m.get('trailguard_integrity_last_seal_timestamp_seconds') ?? 0;
    assert.ok(Math.abs(sealedAt - Date.now() / 1000) < 60, String(sealedAt));
    assert.equal(m.get('trailguard_integrity_unsealed_rows{stream="login_history"}'), 0);
  });

  it('counts retention runs and the rows they removed, and reports the last run time', async () => {
    let m = await scrape(s);
    assert.equal(m.get('trailguard_retention_runs_total{outcome="success"}'), 0);
    assert.equal(m.get('trailguard_retention_last_run_timestamp_seconds'), 0);
    await tg.retention.run({ dryRun: true });
    m = await scrape(s);
    assert.equal(m.get('trailguard_retention_runs_total{outcome="success"}'), 0, 'a dry run changes nothing');
    const receipt = await tg.retention.run();
    m = await scrape(s);
    assert.equal(m.get('trailguard_retention_runs_total{outcome="success"}'), 1);
    assert.equal(m.get('trailguard_retention_runs_total{outcome="failure"}'), 0);
    assert.equal(m.get('trailguard_retention_rows_removed_total'), receipt.totalRows);
    assert.equal(
      m.get('trailguard_retention_last_run_timestamp_seconds'),
      Date.parse(receipt.finishedAt) / 1000,
    );
  });

  it('measures Redis calls behind detection and counts their failures', async () => {
    await tg.security.loginFailed({ username: 'mallory@example.test', ip: '198.51.100.7' });
    const m = await scrape(s);
    assert.equal(m.get('trailguard_detection_degraded'), 1);
    const errors =
      (m.get('trailguard_detection_redis_errors_total{kind="error"}') ?? 0) +
      (m.get('trailguard_detection_redis_errors_total{kind="timeout"}') ?? 0);
    assert.ok(errors >= 1, `errors ${errors}`);
    assert.ok((m.get('trailguard_detection_redis_duration_seconds_count') ?? 0) >= errors);
  });

  it('reports the group-commit queue and batch sizes in rows, under the old name too', async () => {
    const m = await scrape(s);
    assert.equal(m.get('trailguard_group_commit_pending_rows{table="login_history"}'), 0);
    assert.equal(m.get('trailguard_group_commit_pending_rows{table="security_event_rows"}'), 0);
    const rows = m.get('trailguard_group_commit_batch_rows_sum{table="login_history"}') ?? 0;
    assert.ok(rows >= 3, String(rows));
    assert.equal(m.get('trailguard_group_commit_batch_size_sum{table="login_history"}'), rows);
  });

  it('counts 5xx answers by route and status for the error-rate rules', async () => {
    const m = await scrape(s);
    assert.ok(m.get('trailguard_http_requests_total{method="GET",route="/metrics",status="200"}'));
    assert.ok([...m.keys()].some((k) => k.startsWith('trailguard_http_request_duration_seconds_bucket')));
  });
});
