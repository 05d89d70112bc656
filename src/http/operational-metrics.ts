/**
 * Metrics of the background machinery an operator alerts on: the alert outbox and its deliveries,
 * retention runs, integrity sealing, Redis behind detection, and the group-commit queues. Event-driven
 * numbers come from the features' read-only hooks; backlog numbers are read through the façade at
 * scrape time (the database stays the features' own).
 * @module
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import type { Trailguard } from '../trailguard.ts';

/** The part of the façade these metrics read. */
export type OperationalSource = Pick<
  Trailguard,
  'alerts' | 'retention' | 'integrity' | 'logins' | 'security'
>;

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const DELIVERY_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Shares one read between the gauges a scrape collects together: the first caller starts it, callers
 * while it runs get the same promise, and the next scrape reads afresh.
 */
function oncePerScrape<T>(read: () => Promise<T>): () => Promise<T> {
  let current: Promise<T> | null = null;
  return () => {
    if (current) return current;
    const p = read();
    current = p;
    const clear = () => setImmediate(() => (current = null));
    p.then(clear, clear);
    return p;
  };
}

/**
 * Registers the metrics in `registry` and subscribes to the hooks; returns the unsubscribe function.
 * A scrape-time read that fails (the database is down) leaves the gauge at its last value and counts
 * `trailguard_metrics_collect_errors_total`, so /metrics itself still answers.
 */
export function registerOperationalMetrics(registry: Registry, tg: OperationalSource): () => void {
  const registers = [registry];
  const collectErrors = new Counter({
    name: 'trailguard_metrics_collect_errors_total',
    help: 'Scrape-time reads that failed, by source; the gauges they feed keep their last value.',
    labelNames: ['source'],
    registers,
  });
  async function guarded(source: string, read: () => Promise<void>): Promise<void> {
    try {
      await read();
    } catch {
      collectErrors.inc({ source });
    }
  }

  // Alert outbox.
  const outbox = oncePerScrape(() => tg.alerts.outboxStatus());
  new Gauge({
    name: 'trailguard_alert_outbox_pending',
    help: 'Alert deliveries waiting for their first attempt or a retry (every process sharing the database).',
    registers,
    async collect() {
      await guarded('alert_outbox', async () => this.set((await outbox()).pending));
    },
  });
  new Gauge({
    name: 'trailguard_alert_outbox_oldest_pending_age_seconds',
    help: 'Seconds since the oldest pending alert delivery was queued; 0 when none is pending.',
    registers,
    async collect() {
      await guarded('alert_outbox', async () => this.set((await outbox()).oldestPendingSeconds));
    },
  });
  const deliveries = new Counter({
    name: 'trailguard_alert_deliveries_total',
    help: 'Alert delivery attempts by this process, by sink and outcome (delivered, retry, failed).',
    labelNames: ['sink', 'outcome'],
    registers,
  });
  const deliveryDuration = new Histogram({
    name: 'trailguard_alert_delivery_duration_seconds',
    help: 'Duration of one alert delivery attempt, by sink.',
    labelNames: ['sink'],
    buckets: DELIVERY_BUCKETS,
    registers,
  });

  // Retention.
  const retentionRuns = new Counter({
    name: 'trailguard_retention_runs_total',
    help: 'Retention runs by this process that change data, by outcome (success, failure).',
    labelNames: ['outcome'],
    registers,
  });
  const retentionRows = new Counter({
    name: 'trailguard_retention_rows_removed_total',
    help: 'Rows removed by retention runs of this process.',
    registers,
  });
  new Gauge({
    name: 'trailguard_retention_last_run_timestamp_seconds',
    help: 'Unix time the newest retention receipt was written (any process); 0 before the first run.',
    registers,
    async collect() {
      await guarded('retention', async () => {
        const [receipt] = await tg.retention.receipts({ limit: 1 });
        this.set(receipt ? Date.parse(receipt.finishedAt) / 1000 : 0);
      });
    },
  });

  // Integrity sealing.
  const seal = oncePerScrape(() => tg.integrity.sealStatus());
  new Gauge({
    name: 'trailguard_integrity_unsealed_rows',
    help: 'Rows recorded after the last sealed range, by stream (counted up to 1,000,000).',
    labelNames: ['stream'],
    registers,
    async collect() {
      await guarded('integrity', async () => {
        for (const [stream, rows] of Object.entries((await seal()).unsealedRows)) this.set({ stream }, rows);
      });
    },
  });
  new Gauge({
    name: 'trailguard_integrity_last_seal_timestamp_seconds',
    help: 'Unix time of the newest integrity seal entry; 0 before the first seal.',
    registers,
    async collect() {
      await guarded('integrity', async () => {
        const at = (await seal()).lastSealAt;
        this.set(at ? at.getTime() / 1000 : 0);
      });
    },
  });

  // Redis behind detection (only when detection runs on Redis).
  const redisDuration = new Histogram({
    name: 'trailguard_detection_redis_duration_seconds',
    help: 'Duration of a detection script call to Redis (answered, failed or cut off at the deadline).',
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const redisErrors = new Counter({
    name: 'trailguard_detection_redis_errors_total',
    help: 'Detection script calls to Redis that failed (error) or missed their deadline (timeout).',
    labelNames: ['kind'],
    registers,
  });
  for (const kind of ['error', 'timeout']) redisErrors.inc({ kind }, 0);

  // Group-commit queues.
  new Gauge({
    name: 'trailguard_group_commit_pending_rows',
    help: 'Rows queued for the next group commit or in flight, by table.',
    labelNames: ['table'],
    registers,
    collect() {
      this.set({ table: 'login_history' }, tg.logins.pendingWrites);
      this.set({ table: 'security_event_rows' }, tg.security.pendingWrites);
    },
  });

  const unsubscribe = [
    tg.alerts.onDelivery((attempt) => {
      deliveries.inc({ sink: attempt.sink, outcome: attempt.outcome });
      deliveryDuration.observe({ sink: attempt.sink }, attempt.durationSeconds);
    }),
    tg.retention.onRun((run) => {
      retentionRuns.inc({ outcome: run.outcome });
      retentionRows.inc(run.rows);
    }),
    tg.security.detector?.onRedisCall((seconds, outcome) => {
      redisDuration.observe(seconds);
      if (outcome !== 'ok') redisErrors.inc({ kind: outcome });
    }) ?? (() => undefined),
  ];
  // Zero series, so a rule on rate() or increase() has something to read before the first event.
  for (const outcome of ['success', 'failure']) retentionRuns.inc({ outcome }, 0);
  return () => {
    for (const u of unsubscribe) u();
  };
}
