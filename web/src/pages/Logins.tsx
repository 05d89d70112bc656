import { useMemo } from 'react';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import type { ColumnDef } from '@tanstack/react-table';
import { DEVICE_TYPES, LOGIN_TYPES, api } from '../api.ts';
import type { Calendar, LoginRecord, Page } from '../api.ts';
import {
  Badge,
  DataTable,
  DateFilter,
  Empty,
  ErrorState,
  Fields,
  FilterBar,
  GeoAttribution,
  Json,
  Loading,
  PageHeader,
  Pager,
  SearchBox,
  SelectFilter,
  TextFilter,
} from '../components.tsx';
import { dayStart, fmtDuration, fmtTime, label, looksLikeIp } from '../format.ts';
import { Link, href, navigate, useLocation, useSearchParams } from '../router.tsx';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const FILTER_KEYS = [
  'success',
  'loginType',
  'deviceType',
  'country',
  'from',
  'to',
  'ip',
  'search',
  'username',
  'userId',
  'y',
  'm',
  'd',
];

/** A URL date is a day (`2026-03-01`, from a date input) or an instant (from a chart). */
function bound(v: string | null, next: boolean): string | undefined {
  if (!v) return undefined;
  return /^\d{4}-\d{2}-\d{2}$/.test(v) ? dayStart(v, next) : v;
}

/** The drill-down (y, m, d) narrows the window; explicit from/to apply otherwise. */
export function loginQuery(params: URLSearchParams): Record<string, string | undefined> {
  const y = Number(params.get('y'));
  const m = Number(params.get('m'));
  const d = Number(params.get('d'));
  let from = bound(params.get('from'), false);
  let to = bound(params.get('to'), true);
  if (y) {
    const start = new Date(Date.UTC(y, m ? m - 1 : 0, d || 1));
    const end = d
      ? new Date(Date.UTC(y, m - 1, d + 1))
      : m
        ? new Date(Date.UTC(y, m, 1))
        : new Date(Date.UTC(y + 1, 0, 1));
    from = start.toISOString();
    to = end.toISOString();
  }
  const get = (k: string) => params.get(k) ?? undefined;
  return {
    success: get('success'),
    loginType: get('loginType'),
    deviceType: get('deviceType'),
    country: get('country')?.toUpperCase(),
    ip: get('ip'),
    search: get('search'),
    username: get('username'),
    userId: get('userId'),
    from,
    to,
    cursor: get('cursor'),
    limit: '50',
  };
}

export const loginColumns: ColumnDef<LoginRecord, unknown>[] = [
  {
    header: 'Time',
    cell: ({ row }) => (
      <Link to={`/logins/${row.original.id}`} className="nowrap">
        {fmtTime(row.original.loginAt)}
      </Link>
    ),
  },
  {
    header: 'Username',
    cell: ({ row }) => (
      <Link to={`/security/user/${encodeURIComponent(row.original.username)}`} className="truncate">
        {row.original.username}
      </Link>
    ),
  },
  {
    header: 'Status',
    cell: ({ row }) =>
      row.original.success ? (
        <Badge tone="ok">success</Badge>
      ) : (
        <Badge tone="bad">
          failed{row.original.failureReason ? ` · ${label(row.original.failureReason)}` : ''}
        </Badge>
      ),
  },
  { header: 'Type', cell: ({ row }) => label(row.original.loginType), meta: { className: 'hide-sm' } },
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
    header: 'Country',
    cell: ({ row }) => (row.original.country ? row.original.country : '—'),
    meta: { className: 'hide-sm' },
  },
  {
    header: 'Device',
    cell: ({ row }) => (
      <span title={row.original.userAgent ?? ''}>
        {label(row.original.deviceType)}
        {row.original.browser ? <span className="muted"> · {row.original.browser}</span> : null}
      </span>
    ),
    meta: { className: 'hide-sm' },
  },
  {
    header: 'Session',
    cell: ({ row }) => fmtDuration(row.original.sessionDurationSeconds),
    meta: { className: 'hide-sm num' },
  },
];

function DrillDown() {
  const [params, set] = useSearchParams();
  const y = Number(params.get('y')) || undefined;
  const m = Number(params.get('m')) || undefined;
  const d = Number(params.get('d')) || undefined;
  const cal = useQuery({
    queryKey: ['calendar', y, m],
    queryFn: () => api<Calendar>('/logins/calendar', { query: { year: y, month: y ? m : undefined } }),
    enabled: !d,
  });
  const crumbs: { text: string; patch: Record<string, string | null> }[] = [
    { text: 'All dates', patch: { y: null, m: null, d: null } },
  ];
  if (y) crumbs.push({ text: String(y), patch: { y: String(y), m: null, d: null } });
  if (y && m)
    crumbs.push({ text: MONTHS[m - 1] ?? String(m), patch: { y: String(y), m: String(m), d: null } });
  if (y && m && d) crumbs.push({ text: String(d), patch: {} });
  return (
    <nav className="drill" aria-label="Date drill-down">
      <ol>
        {crumbs.map((c, i) => (
          <li key={c.text}>
            {i === crumbs.length - 1 ? (
              <strong aria-current="location">{c.text}</strong>
            ) : (
              <button className="link-button" onClick={() => set({ ...c.patch, from: null, to: null })}>
                {c.text}
              </button>
            )}
          </li>
        ))}
      </ol>
      {!d && cal.data && (
        <ul className="periods">
          {cal.data.items.map((p) => {
            const date = new Date(p.period);
            const text =
              cal.data.unit === 'year'
                ? String(date.getUTCFullYear())
                : cal.data.unit === 'month'
                  ? MONTHS[date.getUTCMonth()]
                  : String(date.getUTCDate());
            const patch =
              cal.data.unit === 'year'
                ? { y: String(date.getUTCFullYear()) }
                : cal.data.unit === 'month'
                  ? { m: String(date.getUTCMonth() + 1) }
                  : { d: String(date.getUTCDate()) };
            return (
              <li key={p.period}>
                <button className="period" onClick={() => set({ ...patch, from: null, to: null })}>
                  {text} {p.count !== null && <span className="muted">{p.count.toLocaleString()}</span>}
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </nav>
  );
}

/** A search cut short by the server's time budget: say how far back it looked, offer to go on. */
function SearchedBack(props: { until: string; cursor: string | null; empty: boolean }) {
  const [, set] = useSearchParams();
  const more = props.cursor && (
    <button className="button secondary" onClick={() => set({ cursor: props.cursor }, true)}>
      Search older logins
    </button>
  );
  return props.empty ? (
    <div className="state empty" role="status">
      <p>No match since {fmtTime(props.until)} — older logins have not been searched yet.</p>
      {more}
    </div>
  ) : (
    <div className="notice warn" role="status">
      Searched back to {fmtTime(props.until)} — older logins have not been searched yet. {more}
    </div>
  );
}

export function LoginsPage() {
  const [params, set] = useSearchParams();
  const { path } = useLocation();
  const query = loginQuery(params);
  const list = useQuery({
    queryKey: ['logins', query],
    queryFn: () => api<Page<LoginRecord>>('/logins', { query }),
    placeholderData: keepPreviousData,
  });
  const active = FILTER_KEYS.some((k) => params.get(k));
  const searchText = params.get('ip') ?? params.get('search') ?? '';
  const anyGeo = useMemo(() => list.data?.items.some((r) => r.country), [list.data]);

  return (
    <>
      <PageHeader title="Login history" subtitle="Every sign-in attempt, newest first. Read-only." />
      <SearchBox
        label="Search logins"
        placeholder="Username, IP or CIDR (10.0.0.0/8), user agent…"
        value={searchText}
        onSearch={(t) => set(looksLikeIp(t) ? { ip: t, search: null } : { search: t, ip: null })}
      />
      <FilterBar active={active} onClear={() => navigate(path)}>
        <SelectFilter
          name="success"
          label="Status"
          options={[
            { value: 'true', text: 'success' },
            { value: 'false', text: 'failed' },
          ]}
        />
        <SelectFilter name="loginType" label="Login type" options={LOGIN_TYPES} />
        <SelectFilter name="deviceType" label="Device" options={DEVICE_TYPES} />
        <TextFilter name="country" label="Country" placeholder="DE" width="5rem" />
        <DateFilter name="from" label="From" />
        <DateFilter name="to" label="To" />
      </FilterBar>
      <DrillDown />
      {list.isPending && <Loading what="logins" />}
      {list.error && <ErrorState error={list.error} retry={() => void list.refetch()} />}
      {list.data?.searchedBack && (
        <SearchedBack
          until={list.data.searchedBack}
          cursor={list.data.nextCursor}
          empty={list.data.items.length === 0}
        />
      )}
      {list.data &&
        (list.data.items.length === 0 ? (
          list.data.searchedBack ? null : (
            <Empty clear={active}>
              {active
                ? 'No login matches these filters. Widen the dates or clear a filter.'
                : 'No logins recorded yet. Send some with POST /api/v1/logins or tg.logins.record().'}
            </Empty>
          )
        ) : (
          <>
            <DataTable
              busy={list.isFetching}
              caption="Login history"
              data={list.data.items}
              columns={loginColumns}
              rowHref={(r) => `/logins/${r.id}`}
              rowId={(r) => r.id}
            />
            <Pager nextCursor={list.data.nextCursor} count={list.data.items.length} />
            {anyGeo && <GeoAttribution />}
          </>
        ))}
    </>
  );
}

export function LoginDetailPage(props: { id: string }) {
  const rec = useQuery({
    queryKey: ['login', props.id],
    queryFn: () => api<LoginRecord>(`/logins/${props.id}`),
  });
  const r = rec.data;
  return (
    <>
      <PageHeader
        title="Login record"
        subtitle={r ? `${r.username} · ${fmtTime(r.loginAt)}` : props.id}
        back="/logins"
      />
      {rec.isPending && <Loading what="login" />}
      {rec.error && <ErrorState error={rec.error} retry={() => void rec.refetch()} />}
      {r && (
        <div className="detail">
          <section className="panel">
            <h2>Attempt</h2>
            <Fields
              rows={[
                ['Status', r.success ? <Badge tone="ok">success</Badge> : <Badge tone="bad">failed</Badge>],
                ['Failure reason', r.failureReason ? label(r.failureReason) : null],
                [
                  'Username',
                  <Link to={`/security/user/${encodeURIComponent(r.username)}`}>{r.username}</Link>,
                ],
                [
                  'User id',
                  r.userId ? <Link to={href('/logins', { userId: r.userId })}>{r.userId}</Link> : null,
                ],
                ['Login type', label(r.loginType)],
                ['Login at', fmtTime(r.loginAt)],
                ['Logout at', fmtTime(r.logoutAt)],
                ['Session duration', fmtDuration(r.sessionDurationSeconds)],
                ['Record id', <code>{r.id}</code>],
              ]}
            />
          </section>
          <section className="panel">
            <h2>Client</h2>
            <Fields
              rows={[
                [
                  'IP address',
                  r.ipAddress ? (
                    <Link to={`/security/ip/${encodeURIComponent(r.ipAddress)}`} className="mono">
                      {r.ipAddress}
                    </Link>
                  ) : null,
                ],
                ['Country', r.country ? r.country : null],
                ['City', r.city],
                ['Device type', label(r.deviceType)],
                ['Browser', r.browser ? `${r.browser} ${r.browserVersion ?? ''}` : null],
                ['Operating system', r.os],
                ['User agent', r.userAgent ? <code className="wrap">{r.userAgent}</code> : null],
              ]}
            />
            {(r.country || r.city) && <GeoAttribution />}
          </section>
          <section className="panel full">
            <h2>Metadata</h2>
            {Object.keys(r.metadata).length === 0 ? (
              <p className="muted small">No metadata.</p>
            ) : (
              <Json value={r.metadata} />
            )}
          </section>
        </div>
      )}
    </>
  );
}
