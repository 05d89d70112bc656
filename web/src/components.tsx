/**
 * Shared building blocks: layout, tables, filters, pagination, states and charts.
 * @module
 */
import { useEffect, useId, useRef, useState } from 'react';
import type { FormEvent, ReactNode } from 'react';
import { flexRender, getCoreRowModel, useReactTable } from '@tanstack/react-table';
import type { ColumnDef, RowSelectionState } from '@tanstack/react-table';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { ApiError } from './api.ts';
import { label } from './format.ts';
import { Link, navigate, useLocation, useSearchParams } from './router.tsx';

const NAV = [
  { to: '/', text: 'Dashboard' },
  { to: '/logins', text: 'Login history' },
  { to: '/security', text: 'Security events' },
  { to: '/changes', text: 'Change log' },
];

export function Layout(props: { user: string; onSignOut: () => void; children: ReactNode }) {
  const { path } = useLocation();
  const [open, setOpen] = useState(false);
  const current = (to: string) => (to === '/' ? path === '/' : path.startsWith(to));
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="brand" aria-label="Trailguard home">
          <svg viewBox="0 0 16 16" width="20" height="20" aria-hidden="true">
            <path d="M8 1l6 2v5c0 3.5-2.6 6.2-6 7-3.4-.8-6-3.5-6-7V3z" fill="currentColor" />
          </svg>
          Trailguard
        </Link>
        <button
          className="menu-toggle"
          aria-expanded={open}
          aria-controls="nav"
          onClick={() => setOpen((o) => !o)}
        >
          Menu
        </button>
        <nav id="nav" className={open ? 'nav open' : 'nav'} aria-label="Main">
          {NAV.map((n) => (
            <Link
              key={n.to}
              to={n.to}
              aria-current={current(n.to) ? 'page' : undefined}
              onClick={() => setOpen(false)}
            >
              {n.text}
            </Link>
          ))}
        </nav>
        <div className="who">
          <span title="Signed in">{props.user}</span>
          <button className="link-button" onClick={props.onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {props.children}
      </main>
    </div>
  );
}

export function PageHeader(props: {
  title: string;
  subtitle?: ReactNode;
  actions?: ReactNode;
  back?: string;
}) {
  useEffect(() => {
    document.title = `${props.title} · Trailguard`;
  }, [props.title]);
  return (
    <div className="page-header">
      <div>
        {props.back && (
          <Link to={props.back} className="back">
            ← Back
          </Link>
        )}
        <h1>{props.title}</h1>
        {props.subtitle && <p className="subtitle">{props.subtitle}</p>}
      </div>
      {props.actions && <div className="actions">{props.actions}</div>}
    </div>
  );
}

export function Loading(props: { what?: string }) {
  return (
    <div className="state loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> Loading {props.what ?? ''}…
    </div>
  );
}

/** An error state that says what to do next. */
export function ErrorState(props: { error: unknown; retry?: () => void }) {
  const e = props.error;
  let what = 'Something went wrong.';
  let todo = 'Try again; if it keeps failing, check the server log.';
  if (e instanceof ApiError) {
    what = e.message;
    if (e.code === 'ROUTE_NOT_FOUND')
      todo = 'This server version does not offer this view yet. Upgrade Trailguard.';
    else if (e.code === 'VALIDATION_FAILED')
      todo = `Fix the ${e.field ? `"${e.field}" ` : ''}filter, or clear the filters.`;
    else if (e.code === 'NETWORK') todo = 'Check that trailguard serve is running, then retry.';
    else if (e.code === 'RATE_LIMITED') todo = 'Wait a moment, then retry.';
    else if (e.status === 404) todo = 'It may have been removed by retention. Go back to the list.';
    else if (e.status >= 500) todo = 'The server failed; check its log, then retry.';
  }
  return (
    <div className="state error" role="alert">
      <strong>{what}</strong>
      <p>{todo}</p>
      {props.retry && (
        <button className="button" onClick={props.retry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Empty(props: { children: ReactNode; clear?: boolean }) {
  const { path } = useLocation();
  return (
    <div className="state empty">
      <p>{props.children}</p>
      {props.clear && (
        <button className="button" onClick={() => navigate(path)}>
          Clear all filters
        </button>
      )}
    </div>
  );
}

export function Badge(props: {
  tone?: 'ok' | 'bad' | 'warn' | 'info' | 'muted' | 'crit';
  children: ReactNode;
}) {
  return <span className={`badge ${props.tone ?? 'muted'}`}>{props.children}</span>;
}

export function severityTone(s: string): 'info' | 'warn' | 'bad' | 'crit' {
  return s === 'critical' ? 'crit' : s === 'error' ? 'bad' : s === 'warning' ? 'warn' : 'info';
}

export function impactTone(s: string): 'crit' | 'bad' | 'warn' | 'muted' {
  return s === 'critical' ? 'crit' : s === 'high' ? 'bad' : s === 'medium' ? 'warn' : 'muted';
}

/** DB-IP's licence (CC BY 4.0) asks for this wherever its geolocation is shown. */
export function GeoAttribution() {
  return (
    <p className="attribution">
      IP geolocation by{' '}
      <a href="https://db-ip.com" target="_blank" rel="noreferrer">
        DB-IP
      </a>{' '}
      (https://db-ip.com), CC BY 4.0
    </p>
  );
}

// ---- filters ----

export function FilterBar(props: { children: ReactNode; onClear?: () => void; active: boolean }) {
  return (
    <div className="filters" role="group" aria-label="Filters">
      {props.children}
      {props.active && props.onClear && (
        <button className="link-button clear" onClick={props.onClear}>
          Clear filters
        </button>
      )}
    </div>
  );
}

export function SelectFilter(props: {
  name: string;
  label: string;
  options: readonly string[] | { value: string; text: string }[];
}) {
  const [params, set] = useSearchParams();
  const id = useId();
  const options = props.options.map((o) => (typeof o === 'string' ? { value: o, text: label(o) } : o));
  return (
    <label className="field" htmlFor={id}>
      <span>{props.label}</span>
      <select
        id={id}
        value={params.get(props.name) ?? ''}
        onChange={(e) => set({ [props.name]: e.target.value })}
      >
        <option value="">All</option>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.text}
          </option>
        ))}
      </select>
    </label>
  );
}

export function DateFilter(props: { name: string; label: string }) {
  const [params, set] = useSearchParams();
  const id = useId();
  return (
    <label className="field" htmlFor={id}>
      <span>{props.label}</span>
      <input
        id={id}
        type="date"
        value={params.get(props.name) ?? ''}
        onChange={(e) => set({ [props.name]: e.target.value })}
      />
    </label>
  );
}

export function TextFilter(props: { name: string; label: string; placeholder?: string; width?: string }) {
  const [params, set] = useSearchParams();
  const id = useId();
  const current = params.get(props.name) ?? '';
  const [value, setValue] = useState(current);
  useEffect(() => setValue(current), [current]);
  return (
    <label className="field" htmlFor={id}>
      <span>{props.label}</span>
      <input
        id={id}
        value={value}
        placeholder={props.placeholder}
        style={props.width ? { width: props.width } : undefined}
        onChange={(e) => setValue(e.target.value)}
        onBlur={() => value !== current && set({ [props.name]: value.trim() })}
        onKeyDown={(e) => e.key === 'Enter' && set({ [props.name]: value.trim() })}
      />
    </label>
  );
}

/** A search box; `onSearch` decides which URL parameters the text becomes. */
export function SearchBox(props: {
  label: string;
  placeholder: string;
  value: string;
  onSearch: (text: string) => void;
}) {
  const [value, setValue] = useState(props.value);
  useEffect(() => setValue(props.value), [props.value]);
  const id = useId();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    props.onSearch(value.trim());
  };
  return (
    <form className="search" role="search" onSubmit={submit}>
      <label htmlFor={id} className="sr-only">
        {props.label}
      </label>
      <input
        id={id}
        type="search"
        value={value}
        placeholder={props.placeholder}
        onChange={(e) => setValue(e.target.value)}
      />
      <button className="button" type="submit">
        Search
      </button>
    </form>
  );
}

// ---- tables ----

export function DataTable<T>(props: {
  data: T[];
  columns: ColumnDef<T, unknown>[];
  rowHref?: (row: T) => string;
  rowId?: (row: T) => string;
  selection?: RowSelectionState;
  onSelectionChange?: (s: RowSelectionState) => void;
  canSelect?: (row: T) => boolean;
  caption: string;
  /** True while a newer page is loading (the old rows stay visible meanwhile). */
  busy?: boolean;
}) {
  const table = useReactTable<T>({
    data: props.data,
    columns: props.columns,
    getCoreRowModel: getCoreRowModel(),
    ...(props.rowId ? { getRowId: props.rowId } : {}),
    enableRowSelection: props.canSelect
      ? (row) => props.canSelect?.(row.original) ?? false
      : !!props.onSelectionChange,
    state: { rowSelection: props.selection ?? {} },
    onRowSelectionChange: (updater) => {
      const next = typeof updater === 'function' ? updater(props.selection ?? {}) : updater;
      props.onSelectionChange?.(next);
    },
  });
  return (
    <div className="table-wrap" aria-busy={props.busy ?? false}>
      <table>
        <caption className="sr-only">{props.caption}</caption>
        <thead>
          {table.getHeaderGroups().map((hg) => (
            <tr key={hg.id}>
              {hg.headers.map((h) => (
                <th
                  key={h.id}
                  scope="col"
                  className={(h.column.columnDef.meta as { className?: string })?.className}
                >
                  {h.isPlaceholder ? null : flexRender(h.column.columnDef.header, h.getContext())}
                </th>
              ))}
            </tr>
          ))}
        </thead>
        <tbody>
          {table.getRowModel().rows.map((row) => (
            <tr
              key={row.id}
              className={props.rowHref ? 'clickable' : undefined}
              aria-selected={row.getIsSelected() || undefined}
              onClick={(e) => {
                if (!props.rowHref) return;
                const t = e.target as HTMLElement;
                if (t.closest('a, button, input, label')) return;
                navigate(props.rowHref(row.original));
              }}
            >
              {row.getVisibleCells().map((cell) => (
                <td
                  key={cell.id}
                  className={(cell.column.columnDef.meta as { className?: string })?.className}
                >
                  {flexRender(cell.column.columnDef.cell, cell.getContext())}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Cursor pagination: "Next" puts the cursor in the URL; "First page" drops it; Back goes back. */
export function Pager(props: { nextCursor: string | null; count: number }) {
  const [params, set] = useSearchParams();
  const onFirst = !params.get('cursor');
  return (
    <nav className="pager" aria-label="Pagination">
      <span className="muted">
        {props.count} shown{onFirst ? '' : ' (not the first page)'}
      </span>
      <div>
        <button className="button secondary" disabled={onFirst} onClick={() => set({ cursor: null })}>
          ⟨ First page
        </button>
        <button className="button secondary" disabled={onFirst} onClick={() => window.history.back()}>
          ‹ Newer
        </button>
        <button
          className="button secondary"
          disabled={!props.nextCursor}
          onClick={() => set({ cursor: props.nextCursor }, true)}
        >
          Older ›
        </button>
      </div>
    </nav>
  );
}

// ---- charts ----

export function Card(props: {
  title: string;
  href?: string;
  linkText?: string;
  children: ReactNode;
  wide?: boolean;
}) {
  return (
    <section className={props.wide ? 'card wide' : 'card'} aria-label={props.title}>
      <header>
        <h2>{props.title}</h2>
        {props.href && (
          <Link to={props.href} className="card-link">
            {props.linkText ?? 'View list'} →
          </Link>
        )}
      </header>
      {props.children}
    </section>
  );
}

/** Horizontal bars; each bar links to the filtered list behind it. */
export function BarList(props: {
  items: { key: string; text?: string; count: number; href?: string; tone?: string }[];
  unit?: string;
}) {
  const max = Math.max(1, ...props.items.map((i) => i.count));
  if (props.items.length === 0) return <p className="muted small">No data in this window.</p>;
  return (
    <ul className="bars">
      {props.items.map((i) => {
        const body = (
          <>
            <span className="bar-label">{i.text ?? label(i.key)}</span>
            <span className="bar-track" aria-hidden="true">
              <span className={`bar-fill ${i.tone ?? ''}`} style={{ width: `${(i.count / max) * 100}%` }} />
            </span>
            <span className="bar-value">
              {i.count.toLocaleString()}
              {props.unit ? ` ${props.unit}` : ''}
            </span>
          </>
        );
        return <li key={i.key}>{i.href ? <Link to={i.href}>{body}</Link> : <div>{body}</div>}</li>;
      })}
    </ul>
  );
}

/** Stacked-free time series with uPlot (success and failure per hour). */
export function TimeSeries(props: {
  times: number[];
  series: { label: string; values: number[]; color: string }[];
  height?: number;
  onPick?: (time: number) => void;
  ariaLabel: string;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const onPick = useRef(props.onPick);
  onPick.current = props.onPick;
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const width = () => Math.max(280, el.clientWidth);
    const plot = new uPlot(
      {
        width: width(),
        height: props.height ?? 220,
        legend: { show: true },
        cursor: { points: { size: 6 } },
        scales: { x: { time: true } },
        axes: [
          { stroke: '#5b6472', grid: { stroke: '#eef0f4' } },
          { stroke: '#5b6472', grid: { stroke: '#eef0f4' }, size: 48 },
        ],
        series: [
          {},
          ...props.series.map((s) => ({
            label: s.label,
            stroke: s.color,
            fill: `${s.color}22`,
            width: 2,
            points: { show: false },
          })),
        ],
        hooks: {
          ready: [
            (u: uPlot) => {
              u.over.addEventListener('click', () => {
                const idx = u.cursor.idx;
                if (idx !== null && idx !== undefined && onPick.current) onPick.current(u.data[0][idx] ?? 0);
              });
            },
          ],
        },
      },
      [props.times, ...props.series.map((s) => s.values)],
      el,
    );
    const ro = new ResizeObserver(() => plot.setSize({ width: width(), height: props.height ?? 220 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [props.times, props.series, props.height]);
  return <div ref={ref} className="chart" role="img" aria-label={props.ariaLabel} />;
}

/** A big number with a caption. */
export function Stat(props: { value: string; caption: string; href?: string; tone?: string }) {
  const inner = (
    <>
      <span className={`stat-value ${props.tone ?? ''}`}>{props.value}</span>
      <span className="stat-caption">{props.caption}</span>
    </>
  );
  return props.href ? (
    <Link to={props.href} className="stat">
      {inner}
    </Link>
  ) : (
    <div className="stat">{inner}</div>
  );
}

/** A definition list of label → value. */
export function Fields(props: { rows: [string, ReactNode][] }) {
  return (
    <dl className="fields">
      {props.rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v === null || v === undefined || v === '' ? <span className="muted">—</span> : v}</dd>
        </div>
      ))}
    </dl>
  );
}

export function Json(props: { value: unknown }) {
  return <pre className="json">{JSON.stringify(props.value, null, 2)}</pre>;
}

/** A modal confirmation (focus moves into it; Escape cancels). */
export function Confirm(props: {
  title: string;
  children: ReactNode;
  confirmText: string;
  onConfirm: () => void;
  onCancel: () => void;
  busy?: boolean;
  danger?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby="confirm-title"
      onCancel={(e) => {
        e.preventDefault();
        props.onCancel();
      }}
    >
      <h2 id="confirm-title">{props.title}</h2>
      <div>{props.children}</div>
      <div className="dialog-actions">
        <button className="button secondary" onClick={props.onCancel} disabled={props.busy}>
          Cancel
        </button>
        <button
          className={props.danger ? 'button danger' : 'button'}
          onClick={props.onConfirm}
          disabled={props.busy}
          autoFocus
        >
          {props.busy ? 'Working…' : props.confirmText}
        </button>
      </div>
    </dialog>
  );
}
