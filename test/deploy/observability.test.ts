/**
 * The shipped Prometheus rules and Grafana dashboard: valid for promtool, and every metric they query
 * is one the server exports.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { openTrailguard } from '../helpers/backends.ts';
import type { Trailguard } from '../../src/index.ts';
import { startServer } from '../http/helpers.ts';
import type { TestServer } from '../http/helpers.ts';

const root = new URL('../../', import.meta.url);
const RULES = new URL('deploy/prometheus/trailguard-rules.yml', root).pathname;
const DASHBOARD = new URL('deploy/grafana/trailguard.json', root).pathname;

/** The PromQL expressions of the rules file (one `expr:` line each). */
function ruleExpressions(): { alert: string; expr: string }[] {
  const out: { alert: string; expr: string }[] = [];
  let alert = '';
  for (const line of readFileSync(RULES, 'utf8').split('\n')) {
    const a = /^\s*- alert: (\S+)/.exec(line);
    if (a) alert = a[1]!;
    const e = /^\s*expr: (.+)$/.exec(line);
    if (e) out.push({ alert, expr: e[1]! });
  }
  return out;
}

/** The PromQL expressions of every panel target of the dashboard. */
function dashboardExpressions(): { panel: string; expr: string }[] {
  const doc = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    panels: { title: string; type: string; targets?: { expr: string }[] }[];
  };
  return doc.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
}

/**
 * The metric families an expression reads: every `trailguard_…` identifier that is not a label value
 * (quoted), with a histogram's `_bucket`/`_sum`/`_count` series mapped to its family.
 */
export function metricFamilies(expr: string): string[] {
  const unquoted = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const names = unquoted.match(/\btrailguard_[a-zA-Z0-9_:]*/g) ?? [];
  return [...new Set(names)];
}

function promtool(): string | null {
  const found = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return found.error ? null : 'promtool';
}

describe('Prometheus rules and Grafana dashboard', () => {
  let tg: Trailguard;
  let s: TestServer;
  let exported: Set<string>;
  before(async () => {
    tg = await openTrailguard('pglite');
    s = await startServer(tg, { processMetrics: true });
    const res = await s.call('GET', '/metrics', { key: s.keys.read });
    assert.equal(res.status, 200);
    exported = new Set<string>();
    for (const m of (res.body as string).matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      const [, name, type] = m as unknown as [string, string, string];
      exported.add(name);
      if (type === 'histogram')
        for (const suffix of ['_bucket', '_sum', '_count']) exported.add(name + suffix);
    }
  });
  after(async () => {
    await s?.close();
    await tg?.close();
  });

  it('finds the expressions to check (the parser reads the files it is meant to)', () => {
    assert.ok(ruleExpressions().length >= 10);
    assert.ok(dashboardExpressions().length >= 15);
    assert.deepEqual(
      metricFamilies('rate(trailguard_a_total{x="trailguard_not_a_metric"}[5m]) / trailguard_b_bucket'),
      ['trailguard_a_total', 'trailguard_b_bucket'],
    );
  });

  it('uses only metrics the server exports, in every rule and every dashboard panel', () => {
    const used = [
      ...ruleExpressions().map((r) => ({ where: `rule ${r.alert}`, expr: r.expr })),
      ...dashboardExpressions().map((p) => ({ where: `panel "${p.panel}"`, expr: p.expr })),
    ];
    for (const { where, expr } of used) {
      const families = metricFamilies(expr);
      assert.ok(families.length > 0, `${where} reads no Trailguard metric: ${expr}`);
      for (const name of families) assert.ok(exported.has(name), `${where} uses ${name}, not in /metrics`);
    }
    // And a name the server does not export would be caught.
    assert.equal(exported.has('trailguard_no_such_metric_total'), false);
  });

  it('covers what an operator alerts on: logins, failures, signals, detection, outbox, seal lag, retention, 5xx, latency', () => {
    const rules = ruleExpressions()
      .map((r) => r.expr)
      .join('\n');
    const panels = dashboardExpressions()
      .map((p) => p.expr)
      .join('\n');
    for (const name of [
      'trailguard_logins_total',
      'trailguard_signals_total',
      'trailguard_detection_degraded',
      'trailguard_alert_outbox_oldest_pending_age_seconds',
      'trailguard_integrity_last_seal_timestamp_seconds',
      'trailguard_retention_runs_total',
      'trailguard_http_requests_total',
      'trailguard_http_request_duration_seconds_bucket',
    ]) {
      assert.ok(rules.includes(name), `a rule uses ${name}`);
      assert.ok(panels.includes(name), `a panel uses ${name}`);
    }
    assert.match(rules, /status=~"5\.\."/);
  });

  it('passes `promtool check rules`', (t) => {
    const tool = promtool();
    if (!tool) {
      t.skip('promtool is not installed (Debian package `prometheus`; .ci/run installs it)');
      return;
    }
    const run = spawnSync(tool, ['check', 'rules', RULES], { encoding: 'utf8' });
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /SUCCESS: \d+ rules found/);
    // promtool does catch a broken expression.
    const broken = spawnSync(tool, ['check', 'rules', '/dev/stdin'], {
      encoding: 'utf8',
      input:
        'groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum(rate(trailguard_logins_total[5m])\n',
    });
    assert.notEqual(broken.status, 0);
  });
});
