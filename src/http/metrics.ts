/**
 * Prometheus metrics in the server's own registry (never prom-client's global one, so an application
 * embedding the server keeps its metrics apart).
 * @module
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DETECTION_PATTERNS } from '../domain/security-event.ts';
import type { SecurityEvent } from '../domain/security-event.ts';

export interface ServerMetrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route'>;
  logins: Counter<'outcome'>;
  ingestLatency: Histogram<'kind'>;
  batchRows: Histogram<'table'>;
  /** @deprecated the same histogram as `batchRows` under its old name, without a unit. */
  batchSize: Histogram<'table'>;
  securityEvents: Counter<'type' | 'severity'>;
  signals: Counter<'pattern'>;
  detectionDegraded: Gauge;
}

const BATCH_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000];

/** Creates the registry and every metric the server exports. */
export function createMetrics(
  options: {
    defaultMetrics?: boolean;
    /** Read at scrape time for `trailguard_detection_degraded`. */
    detectionDegraded?: () => boolean;
  } = {},
): ServerMetrics {
  const degraded = options.detectionDegraded;
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'trailguard_' });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 'trailguard_http_requests_total',
      help: 'HTTP requests by method, route and status.',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'trailguard_http_request_duration_seconds',
      help: 'HTTP request duration by route.',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    logins: new Counter({
      name: 'trailguard_logins_total',
      help: 'Login attempts recorded, by outcome.',
      labelNames: ['outcome'],
      registers,
    }),
    ingestLatency: new Histogram({
      name: 'trailguard_ingest_latency_seconds',
      help: 'Time from receiving an ingestion request to its rows being committed.',
      labelNames: ['kind'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    batchRows: new Histogram({
      name: 'trailguard_group_commit_batch_rows',
      help: 'Rows per group-committed INSERT.',
      labelNames: ['table'],
      buckets: BATCH_BUCKETS,
      registers,
    }),
    // Kept under its old name for dashboards built on it; to be removed in the next major version.
    batchSize: new Histogram({
      name: 'trailguard_group_commit_batch_size',
      help: 'Deprecated: use trailguard_group_commit_batch_rows (the same histogram).',
      labelNames: ['table'],
      buckets: BATCH_BUCKETS,
      registers,
    }),
    securityEvents: new Counter({
      name: 'trailguard_security_events_total',
      help: 'Security events recorded, by type and severity.',
      labelNames: ['type', 'severity'],
      registers,
    }),
    signals: new Counter({
      name: 'trailguard_signals_total',
      help: 'Detection signals raised, by pattern.',
      labelNames: ['pattern'],
      registers,
    }),
    detectionDegraded: new Gauge({
      name: 'trailguard_detection_degraded',
      help: '1 while detection runs on the in-process fallback because Redis is unavailable.',
      registers,
      collect() {
        if (degraded) this.set(degraded() ? 1 : 0);
      },
    }),
  };
}

/**
 * Feeds events by type and severity, and signals by pattern, from `tg.security`'s committed events.
 * A windowed or impossible-travel signal is its `suspicious_activity` event; a new country rides on
 * the `login_success` event. Returns the unsubscribe function.
 */
export function observeSecurityEvents(
  tg: { security: { onEvent(listener: (event: SecurityEvent) => void): () => void } },
  metrics: ServerMetrics,
): () => void {
  // Label children cached: this runs for every event on the ingest path.
  const events = new Map<string, Counter.Internal>();
  const signals = new Map<string, Counter.Internal>();
  const signal = (pattern: string) => {
    let c = signals.get(pattern);
    if (!c) signals.set(pattern, (c = metrics.signals.labels({ pattern })));
    c.inc();
  };
  return tg.security.onEvent((event) => {
    const key = `${event.type}|${event.severity}`;
    let c = events.get(key);
    if (!c)
      events.set(key, (c = metrics.securityEvents.labels({ type: event.type, severity: event.severity })));
    c.inc();
    if (event.type === 'suspicious_activity') {
      const pattern = event.context['pattern'];
      // Ingested events may carry any pattern text: keep the label set bounded.
      signal((DETECTION_PATTERNS as readonly unknown[]).includes(pattern) ? (pattern as string) : 'other');
    } else if (event.type === 'login_success' && Array.isArray(event.context['signals'])) {
      for (const s of event.context['signals'] as { pattern?: unknown }[])
        if (s.pattern === 'new_country') signal('new_country');
    }
  });
}
