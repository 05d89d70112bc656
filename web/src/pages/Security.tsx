import { useMemo, useState } from 'react';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { ColumnDef } from '@tanstack/react-table';
import { ApiError, CATEGORIES, EVENT_TYPES, SEVERITIES, api } from '../api.ts';
import type { LoginRecord, Page, SecurityEvent, Signal } from '../api.ts';
import {
  Badge,
  BarList,
  Card,
  Confirm,
  DataTable,
  DateFilter,
  Empty,
  ErrorState,
  FilterBar,
  GeoAttribution,
  Loading,
  PageHeader,
  Pager,
  SelectFilter,
  Stat,
  severityTone,
} from '../components.tsx';
import { dayStart, fmtTime, label } from '../format.ts';
import { Link, href, navigate, useLocation, useSearchParams } from '../router.tsx';
import { loginColumns } from './Logins.tsx';

const IP_PATTERNS = new Set(['brute_force', 'account_enumeration']);

function signalHref(s: Signal): string {
  return IP_PATTERNS.has(s.pattern)
    ? `/security/ip/${encodeURIComponent(s.key)}`
    : `/security/user/${encodeURIComponent(s.key)}`;
}

const eventColumns: ColumnDef<SecurityEvent, unknown>[] = [
  { header: 'Time', cell: ({ row }) => <span className="nowrap">{fmtTime(row.original.occurredAt)}</span> },
  { header: 'Type', cell: ({ row }) => label(row.original.type) },
  {
    header: 'Severity',
    cell: ({ row }) => <Badge tone={severityTone(row.original.severity)}>{row.original.severity}</Badge>,
  },
  { header: 'Category', cell: ({ row }) => label(row.original.category), meta: { className: 'hide-sm' } },
  {
    header: 'User',
    cell: ({ row }) =>
      row.original.username ? (
        <Link to={`/security/user/${encodeURIComponent(row.original.username)}`} className="truncate">
          {row.original.username}
        </Link>
      ) : (
        '—'
      ),
  },
  {
    header: 'IP address',
    cell: ({ row }) =>
      row.original.ipAddress ? (
        <Link to={`/security/ip/${encodeURIComponent(row.original.ipAddress)}`} className="mono">
          {row.original.ipAddress}
        </Link>
      ) : (
        '—'
      ),
  },
  {
    header: 'Details',
    cell: ({ row }) => {
      const c = row.original.context;
      // Signals are pattern names (or objects with a pattern); a suspicious_activity event names its own.
      const raw = Array.isArray(c['signals']) ? (c['signals'] as unknown[]) : [];
      const patterns = raw.map((s) =>
        typeof s === 'string' ? s : String((s as { pattern?: unknown }).pattern ?? ''),
      );
      if (typeof c['pattern'] === 'string' && !patterns.includes(c['pattern']))
        patterns.unshift(c['pattern']);
      return (
        <span className="small details">
          {row.original.reason ? <span>{label(row.original.reason)}</span> : null}
          {patterns.filter(Boolean).map((p) => (
            <Badge key={p} tone="crit">
              {label(p)}
            </Badge>
          ))}
        </span>
      );
    },
    meta: { className: 'hide-sm' },
  },
];

const signalColumns: ColumnDef<Signal, unknown>[] = [
  { header: 'Pattern', cell: ({ row }) => <Badge tone="crit">{label(row.original.pattern)}</Badge> },
  {
    header: 'IP or account',
    cell: ({ row }) => (
      <Link to={signalHref(row.original)} className="mono">
        {row.original.key}
      </Link>
    ),
  },
  {
    header: 'Count',
    cell: ({ row }) => `${row.original.count} / ${row.original.threshold}`,
    meta: { className: 'num' },
  },
  {
    header: 'Window',
    cell: ({ row }) => `${Math.round(row.original.windowSeconds / 60)} min`,
    meta: { className: 'hide-sm' },
  },
  { header: 'First seen', cell: ({ row }) => fmtTime(row.original.firstSeenAt) },
];

function eventQuery(params: URLSearchParams, extra: Record<string, string> = {}) {
  const get = (k: string) => params.get(k) ?? undefined;
  const from = get('from');
  const to = get('to');
  return {
    type: get('type'),
    category: get('category'),
    severity: get('severity'),
    from: from ? (from.length === 10 ? dayStart(from) : from) : undefined,
    to: to ? (to.length === 10 ? dayStart(to, true) : to) : undefined,
    cursor: get('cursor'),
    limit: '50',
    ...extra,
  };
}

export function SecurityPage(props: { tab: 'events' | 'signals' }) {
  return (
    <>
      <PageHeader
        title="Security events"
        subtitle="Typed events with severities, and what detection concluded from them."
      />
      <div className="tabs" role="tablist" aria-label="Security views">
        <Link
          to="/security"
          role="tab"
          aria-selected={props.tab === 'events'}
          className={props.tab === 'events' ? 'tab active' : 'tab'}
        >
          Events
        </Link>
        <Link
          to="/security/signals"
          role="tab"
          aria-selected={props.tab === 'signals'}
          className={props.tab === 'signals' ? 'tab active' : 'tab'}
        >
          Active signals
        </Link>
      </div>
      {props.tab === 'events' ? <EventList /> : <SignalList />}
    </>
  );
}

function EventList(props: { extra?: Record<string, string>; compact?: boolean }) {
  const [params] = useSearchParams();
  const { path } = useLocation();
  const query = eventQuery(params, props.extra);
  const list = useQuery({
    queryKey: ['events', query],
    queryFn: () => api<Page<SecurityEvent>>('/security-events', { query }),
    placeholderData: keepPreviousData,
  });
  const active = ['type', 'category', 'severity', 'from', 'to'].some((k) => params.get(k));
  return (
    <>
      {!props.compact && (
        <FilterBar active={active} onClear={() => navigate(path)}>
          <SelectFilter name="type" label="Type" options={EVENT_TYPES} />
          <SelectFilter name="category" label="Category" options={CATEGORIES} />
          <SelectFilter name="severity" label="Severity" options={SEVERITIES} />
          <DateFilter name="from" label="From" />
          <DateFilter name="to" label="To" />
        </FilterBar>
      )}
      {list.isPending && <Loading what="events" />}
      {list.error && <ErrorState error={list.error} retry={() => void list.refetch()} />}
      {list.data &&
        (list.data.items.length === 0 ? (
          <Empty clear={active && !props.compact}>
            {active
              ? 'No event matches these filters. Widen the dates or clear a filter.'
              : 'No security events recorded.'}
          </Empty>
        ) : (
          <>
            <DataTable
              busy={list.isFetching}
              caption="Security events"
              data={list.data.items}
              columns={eventColumns}
              rowId={(r) => r.id}
            />
            <Pager nextCursor={list.data.nextCursor} count={list.data.items.length} />
          </>
        ))}
    </>
  );
}

function SignalList() {
  const signals = useQuery({
    queryKey: ['signals'],
    queryFn: () => api<{ items: Signal[] }>('/signals'),
    refetchInterval: 30_000,
  });
  if (signals.isPending) return <Loading what="signals" />;
  if (signals.error) return <ErrorState error={signals.error} retry={() => void signals.refetch()} />;
  if (signals.data.items.length === 0)
    return <Empty>No active signals: no detection pattern is over its threshold right now.</Empty>;
  return <DataTable caption="Active signals" data={signals.data.items} columns={signalColumns} />;
}

/** Aggregates the recent attempts of one IP or user (the last 1,000) for the entity pages. */
function useAttempts(filter: Record<string, string>) {
  return useQuery({
    queryKey: ['attempts', filter],
    queryFn: () => api<Page<LoginRecord>>('/logins', { query: { ...filter, limit: 1000 } }),
  });
}

function summarize(items: LoginRecord[]) {
  const count = (key: (r: LoginRecord) => string) => {
    const m = new Map<string, number>();
    for (const r of items) m.set(key(r), (m.get(key(r)) ?? 0) + 1);
    return [...m.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => ({ key: k, count: n }));
  };
  return {
    failed: items.filter((r) => !r.success).length,
    succeeded: items.filter((r) => r.success).length,
    countries: count((r) => r.country ?? '??'),
    devices: count((r) => r.deviceType),
    users: count((r) => r.username),
    ips: count((r) => r.ipAddress ?? 'unknown'),
  };
}

function ResetCounters(props: { ip?: string; username?: string }) {
  const [asking, setAsking] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const queries = useQueryClient();
  const reset = useMutation({
    mutationFn: () =>
      api('/security/reset', {
        method: 'POST',
        body: props.ip ? { ip: props.ip } : { username: props.username },
      }),
    onSuccess: () => {
      setAsking(false);
      setDone('Counters reset: detection forgets the failures so far. Recorded as account_unlocked.');
      void queries.invalidateQueries();
    },
  });
  const what = props.ip ? `IP ${props.ip}` : `account ${props.username ?? ''}`;
  return (
    <>
      <button className="button danger" onClick={() => setAsking(true)}>
        Reset counters
      </button>
      {done && (
        <p className="notice ok" role="status">
          {done}
        </p>
      )}
      {asking && (
        <Confirm
          title="Reset detection counters?"
          confirmText="Reset counters"
          danger
          busy={reset.isPending}
          onCancel={() => setAsking(false)}
          onConfirm={() => reset.mutate()}
        >
          <p>
            Detection will forget the recent failed attempts of the {what}, lifting a lockout. The history
            itself is kept, and the reset is recorded as an <code>account_unlocked</code> event.
          </p>
          {reset.error && (
            <p className="form-error" role="alert">
              {reset.error instanceof ApiError ? reset.error.message : 'The reset failed.'}
            </p>
          )}
        </Confirm>
      )}
    </>
  );
}

function EntityPage(props: { kind: 'ip' | 'user'; value: string }) {
  const filter = props.kind === 'ip' ? { ip: props.value } : { username: props.value };
  const attempts = useAttempts(filter);
  const signals = useQuery({ queryKey: ['signals'], queryFn: () => api<{ items: Signal[] }>('/signals') });
  const sum = useMemo(() => summarize(attempts.data?.items ?? []), [attempts.data]);
  const mine = (signals.data?.items ?? []).filter((s) => s.key === props.value);
  const listHref = href('/logins', filter);
  return (
    <>
      <PageHeader
        title={props.kind === 'ip' ? `IP ${props.value}` : `User ${props.value}`}
        subtitle={
          props.kind === 'ip'
            ? 'Attempts from this address, where it appears to be, and what detection says.'
            : 'Attempts on this account, from where and which devices, and what detection says.'
        }
        back="/security"
        actions={
          <ResetCounters {...(props.kind === 'ip' ? { ip: props.value } : { username: props.value })} />
        }
      />
      {attempts.isPending && <Loading what="attempts" />}
      {attempts.error && <ErrorState error={attempts.error} retry={() => void attempts.refetch()} />}
      {attempts.data && (
        <>
          <div className="grid">
            <Card title="Attempts" href={listHref} linkText="All attempts">
              <div className="stats">
                <Stat
                  value={sum.failed.toLocaleString()}
                  caption="failed"
                  tone="bad"
                  href={href('/logins', { ...filter, success: 'false' })}
                />
                <Stat
                  value={sum.succeeded.toLocaleString()}
                  caption="succeeded"
                  tone="ok"
                  href={href('/logins', { ...filter, success: 'true' })}
                />
              </div>
              <p className="muted small">
                Over the latest {attempts.data.items.length.toLocaleString()} attempts
                {attempts.data.nextCursor ? ' (older ones not counted)' : ''}.
              </p>
            </Card>
            <Card title="Active signals" href="/security/signals" linkText="All signals">
              {signals.error && <ErrorState error={signals.error} />}
              {mine.length === 0 ? (
                <p className="muted small">
                  No active signal for this {props.kind === 'ip' ? 'address' : 'account'}.
                </p>
              ) : (
                <ul className="signal-list">
                  {mine.map((s, i) => (
                    <li key={i}>
                      <Badge tone="crit">{label(s.pattern)}</Badge> {s.count} / {s.threshold} in{' '}
                      {Math.round(s.windowSeconds / 60)} min, since {fmtTime(s.firstSeenAt)}
                    </li>
                  ))}
                </ul>
              )}
            </Card>
            <Card title="Countries">
              <BarList
                items={sum.countries
                  .slice(0, 8)
                  .map((c) => ({ key: c.key, text: c.key === '??' ? 'unknown' : c.key, count: c.count }))}
              />
              <GeoAttribution />
            </Card>
            <Card title="Devices">
              <BarList
                items={sum.devices.map((d) => ({
                  key: d.key,
                  count: d.count,
                  href: href('/logins', { ...filter, deviceType: d.key }),
                }))}
              />
            </Card>
            {props.kind === 'ip' ? (
              <Card title="Accounts tried">
                <BarList
                  items={sum.users.slice(0, 8).map((u) => ({
                    key: u.key,
                    text: u.key,
                    count: u.count,
                    href: `/security/user/${encodeURIComponent(u.key)}`,
                  }))}
                />
              </Card>
            ) : (
              <Card title="Addresses">
                <BarList
                  items={sum.ips.slice(0, 8).map((u) => ({
                    key: u.key,
                    text: u.key,
                    count: u.count,
                    href: `/security/ip/${encodeURIComponent(u.key)}`,
                  }))}
                />
              </Card>
            )}
          </div>
          <h2 className="section-title">Latest attempts</h2>
          {attempts.data.items.length === 0 ? (
            <Empty>No login attempt recorded for this {props.kind === 'ip' ? 'address' : 'account'}.</Empty>
          ) : (
            <DataTable
              caption="Latest attempts"
              data={attempts.data.items.slice(0, 20)}
              columns={loginColumns}
              rowHref={(r) => `/logins/${r.id}`}
              rowId={(r) => r.id}
            />
          )}
          <h2 className="section-title">Security events</h2>
          <EventList extra={props.kind === 'ip' ? { ip: props.value } : { username: props.value }} compact />
        </>
      )}
    </>
  );
}

export function IpPage(props: { ip: string }) {
  return <EntityPage kind="ip" value={props.ip} />;
}

export function UserPage(props: { username: string }) {
  return <EntityPage kind="user" value={props.username} />;
}
