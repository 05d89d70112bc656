import { useMemo } from 'react';
import { useQuery } from '@tanstack/react-query';
import { ApiError, IMPACT_LEVELS, api } from '../api.ts';
import type { ChangeReport, Dashboard, Signal } from '../api.ts';
import { BarList, Badge, Card, ErrorState, Loading, PageHeader, Stat, TimeSeries } from '../components.tsx';
import { fmtNum, fmtPct, isoDay, label } from '../format.ts';
import { Link, href, navigate } from '../router.tsx';

const DAY = 86_400_000;

function daysAgo(n: number): string {
  return isoDay(new Date(Date.now() - n * DAY));
}

/** Optional parts of the API (changes, signals) answer 404 on servers without them: shown as such. */
function Unavailable(props: { error: unknown; what: string }) {
  if (props.error instanceof ApiError && props.error.code === 'ROUTE_NOT_FOUND')
    return <p className="muted small">This server does not report {props.what} yet.</p>;
  return <ErrorState error={props.error} />;
}

export function DashboardPage() {
  const dash = useQuery({
    queryKey: ['dashboard'],
    queryFn: () => api<Dashboard>('/dashboard'),
    refetchInterval: 60_000,
  });
  const signals = useQuery({ queryKey: ['signals'], queryFn: () => api<{ items: Signal[] }>('/signals') });
  const changes30 = useQuery({
    queryKey: ['report', 30],
    queryFn: () =>
      api<ChangeReport>('/reports/changes', {
        query: { from: new Date(Date.now() - 30 * DAY).toISOString() },
      }),
  });
  const changes90 = useQuery({
    queryKey: ['report', 90],
    queryFn: () =>
      api<ChangeReport>('/reports/changes', {
        query: { from: new Date(Date.now() - 90 * DAY).toISOString() },
      }),
  });

  const series = useMemo(() => {
    const rows = dash.data?.loginsPerHour ?? [];
    return {
      times: rows.map((r) => Date.parse(r.hour) / 1000),
      series: [
        { label: 'Success', values: rows.map((r) => r.success), color: '#1f9d55' },
        { label: 'Failure', values: rows.map((r) => r.failure), color: '#d64545' },
      ],
    };
  }, [dash.data]);

  return (
    <>
      <PageHeader
        title="Dashboard"
        subtitle={
          dash.data
            ? `Updated ${new Date(dash.data.generatedAt).toLocaleTimeString()}`
            : 'Logins, attacks and changes at a glance'
        }
      />
      {dash.isPending && <Loading what="dashboard" />}
      {dash.error && <ErrorState error={dash.error} retry={() => void dash.refetch()} />}
      {dash.data && (
        <div className="grid">
          <Card
            title="Logins per hour · last 24 h"
            href={href('/logins', { from: daysAgo(1) })}
            linkText="Logins"
            wide
          >
            {dash.data.loginsPerHour.length === 0 ? (
              <p className="muted small">No logins in the last 24 hours.</p>
            ) : (
              <TimeSeries
                ariaLabel="Successful and failed logins per hour over the last 24 hours"
                times={series.times}
                series={series.series}
                onPick={(t) =>
                  navigate(
                    href('/logins', {
                      from: new Date(t * 1000).toISOString(),
                      to: new Date(t * 1000 + 3_600_000).toISOString(),
                    }),
                  )
                }
              />
            )}
            <p className="muted small">Click an hour to list its logins.</p>
          </Card>

          <Card
            title="Success rate · 7 days"
            href={href('/logins', { success: 'false', from: daysAgo(7) })}
            linkText="Failures"
          >
            <div className="stats">
              <Stat
                value={fmtPct(dash.data.successRate.rate)}
                caption="of attempts succeeded"
                tone={(dash.data.successRate.rate ?? 100) < 80 ? 'bad' : 'ok'}
              />
              <Stat
                value={fmtNum(dash.data.successRate.success)}
                caption="successful"
                href={href('/logins', { success: 'true', from: daysAgo(7) })}
              />
              <Stat
                value={fmtNum(dash.data.successRate.failure)}
                caption="failed"
                href={href('/logins', { success: 'false', from: daysAgo(7) })}
                tone="bad"
              />
            </div>
          </Card>

          <Card title="Device types · 30 days" href={href('/logins', { from: daysAgo(30) })}>
            <BarList
              items={dash.data.deviceTypes.map((d) => ({
                key: d.key,
                count: d.count,
                href: href('/logins', { deviceType: d.key, from: daysAgo(30) }),
              }))}
            />
          </Card>

          <Card
            title="Top failing IPs · last hour"
            href={href('/logins', { success: 'false', from: new Date(Date.now() - 3_600_000).toISOString() })}
            linkText="Failures"
          >
            <BarList
              items={dash.data.topFailingIps.map((d) => ({
                key: d.ip,
                text: d.ip,
                count: d.count,
                tone: 'bad',
                href: `/security/ip/${encodeURIComponent(d.ip)}`,
              }))}
              unit="failed"
            />
          </Card>

          <Card title="Active signals" href="/security/signals" linkText="Signals">
            {signals.isPending && <Loading />}
            {signals.error && <Unavailable error={signals.error} what="signals" />}
            {signals.data &&
              (signals.data.items.length === 0 ? (
                <p className="muted small">No active signals: no pattern is over its threshold right now.</p>
              ) : (
                <ul className="signal-list">
                  {signals.data.items.slice(0, 6).map((s, i) => (
                    <li key={`${s.pattern}-${s.key}-${i}`}>
                      <Badge tone="crit">{label(s.pattern)}</Badge>{' '}
                      <Link
                        to={
                          s.pattern === 'brute_force' || s.pattern === 'account_enumeration'
                            ? `/security/ip/${encodeURIComponent(s.key)}`
                            : `/security/user/${encodeURIComponent(s.key)}`
                        }
                      >
                        {s.key}
                      </Link>{' '}
                      <span className="muted small">
                        {s.count} / {s.threshold}
                      </span>
                    </li>
                  ))}
                </ul>
              ))}
          </Card>

          <Card
            title="Changes by impact · 30 days"
            href={href('/changes', { from: daysAgo(30) })}
            linkText="Changes"
          >
            {changes30.isPending && <Loading />}
            {changes30.error && <Unavailable error={changes30.error} what="changes" />}
            {changes30.data && (
              <BarList
                items={IMPACT_LEVELS.map((k) => ({
                  key: k,
                  count: changes30.data.byImpact[k] ?? 0,
                  tone: k === 'critical' || k === 'high' ? 'bad' : '',
                  href: href('/changes', { impactLevel: k, from: daysAgo(30) }),
                }))}
              />
            )}
          </Card>

          <Card
            title="Rollbacks and DORA · 90 days"
            href={href('/changes', { rolledBack: 'true', from: daysAgo(90) })}
            linkText="Rolled back"
            wide
          >
            {changes90.isPending && <Loading />}
            {changes90.error && <Unavailable error={changes90.error} what="changes" />}
            {changes90.data && (
              <div className="stats">
                <Stat
                  value={fmtPct(changes90.data.rollbackRate)}
                  caption="rollback rate"
                  href={href('/changes', { rolledBack: 'true', from: daysAgo(90) })}
                />
                <Stat
                  value={fmtNum(changes90.data.dora.deploymentFrequency, 2)}
                  caption="deployments / day"
                  href={href('/changes', { changeType: 'deployment', from: daysAgo(90) })}
                />
                <Stat
                  value={
                    changes90.data.dora.leadTimeForChangesHours === null
                      ? '—'
                      : `${fmtNum(changes90.data.dora.leadTimeForChangesHours, 1)} h`
                  }
                  caption="lead time for changes"
                />
                <Stat value={fmtPct(changes90.data.dora.changeFailureRate)} caption="change failure rate" />
                <Stat
                  value={
                    changes90.data.dora.timeToRestoreHours === null
                      ? '—'
                      : `${fmtNum(changes90.data.dora.timeToRestoreHours, 1)} h`
                  }
                  caption="time to restore"
                />
              </div>
            )}
          </Card>
        </div>
      )}
    </>
  );
}
