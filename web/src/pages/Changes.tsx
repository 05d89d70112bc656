import { useState } from 'react';
import type { ReactNode } from 'react';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { ColumnDef, RowSelectionState } from '@tanstack/react-table';
import { APPROVAL_STATUSES, ApiError, CHANGE_TYPES, IMPACT_LEVELS, api } from '../api.ts';
import type { Change, ChangeHistoryEntry, Page } from '../api.ts';
import {
  Badge,
  Confirm,
  DataTable,
  DateFilter,
  Empty,
  ErrorState,
  Fields,
  FilterBar,
  Json,
  Loading,
  PageHeader,
  Pager,
  SearchBox,
  SelectFilter,
  TextFilter,
  impactTone,
} from '../components.tsx';
import { dayStart, fmtTime, label } from '../format.ts';
import { Link, navigate, useLocation, useSearchParams } from '../router.tsx';

type User = { id: string; username: string };

/** The signed-in admin, as the person who approves, rejects or rolls back (the API's `by`). */
function actor(user: User): { id: string; name: string } {
  return { id: user.username, name: user.username };
}

function approvalTone(s: string): 'ok' | 'bad' | 'warn' | 'muted' {
  return s === 'approved' ? 'ok' : s === 'rejected' ? 'bad' : s === 'emergency' ? 'warn' : 'muted';
}

function changeQuery(params: URLSearchParams) {
  const get = (k: string) => params.get(k) ?? undefined;
  const from = get('from');
  const to = get('to');
  return {
    changeType: get('changeType'),
    impactLevel: get('impactLevel'),
    approvalStatus: get('approvalStatus'),
    rolledBack: get('rolledBack'),
    environment: get('environment'),
    search: get('search'),
    from: from ? (from.length === 10 ? dayStart(from) : from) : undefined,
    to: to ? (to.length === 10 ? dayStart(to, true) : to) : undefined,
    cursor: get('cursor'),
    limit: '50',
  };
}

const columns: ColumnDef<Change, unknown>[] = [
  {
    id: 'select',
    header: ({ table }) => (
      <input
        type="checkbox"
        aria-label="Select all changes on this page that can be rolled back"
        checked={table.getIsAllRowsSelected()}
        ref={(el) => {
          if (el) el.indeterminate = table.getIsSomeRowsSelected();
        }}
        onChange={table.getToggleAllRowsSelectedHandler()}
      />
    ),
    cell: ({ row }) => (
      <input
        type="checkbox"
        aria-label={`Select ${row.original.title}`}
        checked={row.getIsSelected()}
        disabled={!row.getCanSelect()}
        onChange={row.getToggleSelectedHandler()}
      />
    ),
    meta: { className: 'check' },
  },
  {
    header: 'Deployed',
    cell: ({ row }) => <span className="nowrap">{fmtTime(row.original.deployedAt)}</span>,
  },
  {
    header: 'Title',
    cell: ({ row }) => (
      <Link to={`/changes/${row.original.id}`} className="truncate strong">
        {row.original.title}
      </Link>
    ),
  },
  { header: 'Type', cell: ({ row }) => label(row.original.changeType), meta: { className: 'hide-sm' } },
  {
    header: 'Impact',
    cell: ({ row }) => <Badge tone={impactTone(row.original.impactLevel)}>{row.original.impactLevel}</Badge>,
  },
  {
    header: 'Approval',
    cell: ({ row }) => (
      <Badge tone={approvalTone(row.original.approvalStatus)}>{row.original.approvalStatus}</Badge>
    ),
  },
  {
    header: 'Rolled back',
    cell: ({ row }) =>
      row.original.rolledBack ? <Badge tone="warn">rolled back</Badge> : <span className="muted">no</span>,
  },
  { header: 'Version', cell: ({ row }) => row.original.version ?? '—', meta: { className: 'hide-sm mono' } },
  { header: 'By', cell: ({ row }) => row.original.performedBy.name, meta: { className: 'hide-sm' } },
  { header: 'Env', cell: ({ row }) => row.original.environment, meta: { className: 'hide-sm' } },
];

export function ChangesPage(props: { user: User }) {
  const [params, set] = useSearchParams();
  const { path } = useLocation();
  const query = changeQuery(params);
  const queries = useQueryClient();
  const list = useQuery({
    queryKey: ['changes', query],
    queryFn: () => api<Page<Change>>('/changes', { query }),
    placeholderData: keepPreviousData,
  });
  const [selection, setSelection] = useState<RowSelectionState>({});
  const [asking, setAsking] = useState(false);
  const [notes, setNotes] = useState('');
  const [result, setResult] = useState<{ ok: number; failed: { title: string; message: string }[] } | null>(
    null,
  );
  const selected = (list.data?.items ?? []).filter((c) => selection[c.id]);

  const rollback = useMutation({
    mutationFn: async () => {
      const failed: { title: string; message: string }[] = [];
      let ok = 0;
      for (const c of selected) {
        try {
          await api(`/changes/${c.id}/rollback`, {
            method: 'POST',
            body: { by: actor(props.user), ...(notes.trim() ? { notes: notes.trim() } : {}) },
          });
          ok++;
        } catch (err) {
          failed.push({ title: c.title, message: err instanceof ApiError ? err.message : 'failed' });
        }
      }
      return { ok, failed };
    },
    onSuccess: (r) => {
      setResult(r);
      setAsking(false);
      setSelection({});
      setNotes('');
      void queries.invalidateQueries({ queryKey: ['changes'] });
      void queries.invalidateQueries({ queryKey: ['change'] });
      void queries.invalidateQueries({ queryKey: ['report'] });
    },
  });

  const active = [
    'changeType',
    'impactLevel',
    'approvalStatus',
    'rolledBack',
    'environment',
    'search',
    'from',
    'to',
  ].some((k) => params.get(k));
  return (
    <>
      <PageHeader
        title="Change log"
        subtitle="Production changes, newest deployment first."
        actions={
          <button
            className="button danger"
            disabled={selected.length === 0}
            onClick={() => {
              setResult(null);
              setAsking(true);
            }}
          >
            Mark rolled back{selected.length ? ` (${selected.length})` : ''}
          </button>
        }
      />
      <SearchBox
        label="Search changes"
        placeholder="Title, description, version, ticket or commit…"
        value={params.get('search') ?? ''}
        onSearch={(t) => set({ search: t })}
      />
      <FilterBar active={active} onClear={() => navigate(path)}>
        <SelectFilter name="changeType" label="Type" options={CHANGE_TYPES} />
        <SelectFilter name="impactLevel" label="Impact" options={IMPACT_LEVELS} />
        <SelectFilter name="approvalStatus" label="Approval" options={APPROVAL_STATUSES} />
        <SelectFilter
          name="rolledBack"
          label="Rolled back"
          options={[
            { value: 'true', text: 'yes' },
            { value: 'false', text: 'no' },
          ]}
        />
        <TextFilter name="environment" label="Environment" placeholder="production" width="8rem" />
        <DateFilter name="from" label="From" />
        <DateFilter name="to" label="To" />
      </FilterBar>
      {result && (
        <div className={result.failed.length ? 'notice warn' : 'notice ok'} role="status">
          {result.ok} change{result.ok === 1 ? '' : 's'} marked rolled back.
          {result.failed.map((f) => (
            <div key={f.title}>
              Not rolled back: <strong>{f.title}</strong> — {f.message}
            </div>
          ))}
        </div>
      )}
      {list.isPending && <Loading what="changes" />}
      {list.error && <ErrorState error={list.error} retry={() => void list.refetch()} />}
      {list.data &&
        (list.data.items.length === 0 ? (
          <Empty clear={active}>
            {active
              ? 'No change matches. Widen the dates or clear a filter.'
              : 'No changes logged yet. Log one with trailguard change log or POST /api/v1/changes.'}
          </Empty>
        ) : (
          <>
            <DataTable
              busy={list.isFetching}
              caption="Change log"
              data={list.data.items}
              columns={columns}
              rowId={(r) => r.id}
              rowHref={(r) => `/changes/${r.id}`}
              selection={selection}
              onSelectionChange={setSelection}
              canSelect={(c) => !c.rolledBack}
            />
            <Pager nextCursor={list.data.nextCursor} count={list.data.items.length} />
          </>
        ))}
      {asking && (
        <Confirm
          title={`Mark ${selected.length} change${selected.length === 1 ? '' : 's'} rolled back?`}
          confirmText="Mark rolled back"
          danger
          busy={rollback.isPending}
          onCancel={() => setAsking(false)}
          onConfirm={() => rollback.mutate()}
        >
          <p>This records a rollback on each change and in its history. It cannot be undone.</p>
          <ul className="small">
            {selected.map((c) => (
              <li key={c.id}>
                {c.title}
                {!c.canRollback && (
                  <span className="muted"> (marked as not rollbackable: will be refused)</span>
                )}
              </li>
            ))}
          </ul>
          <label className="field block">
            <span>Notes (optional)</span>
            <textarea value={notes} onChange={(e) => setNotes(e.target.value)} rows={2} maxLength={2000} />
          </label>
        </Confirm>
      )}
    </>
  );
}

function Section(props: { title: string; children: ReactNode; full?: boolean }) {
  return (
    <section className={props.full ? 'panel full' : 'panel'}>
      <h2>{props.title}</h2>
      {props.children}
    </section>
  );
}

function person(p: { id: string; name: string } | null): ReactNode {
  if (!p) return null;
  return p.name === p.id ? p.name : `${p.name} (${p.id})`;
}

function showValue(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function ChangeDetailPage(props: { id: string; user: User }) {
  const queries = useQueryClient();
  const change = useQuery({
    queryKey: ['change', props.id],
    queryFn: () => api<Change & { history: ChangeHistoryEntry[] }>(`/changes/${props.id}`),
  });
  const [dialog, setDialog] = useState<'approve' | 'reject' | null>(null);
  const [text, setText] = useState('');
  const [refusal, setRefusal] = useState<string | null>(null);
  const act = useMutation({
    mutationFn: (kind: 'approve' | 'reject') =>
      api(`/changes/${props.id}/${kind}`, {
        method: 'POST',
        body:
          kind === 'approve'
            ? { by: actor(props.user), ...(text.trim() ? { note: text.trim() } : {}) }
            : { by: actor(props.user), reason: text.trim() },
      }),
    onSuccess: () => {
      setDialog(null);
      setText('');
      setRefusal(null);
      void queries.invalidateQueries({ queryKey: ['change', props.id] });
      void queries.invalidateQueries({ queryKey: ['changes'] });
    },
    onError: (err) => {
      setDialog(null);
      setRefusal(
        err instanceof ApiError
          ? `Refused by the server (${err.code}): ${err.message}`
          : 'Refused: the server could not be reached.',
      );
    },
  });
  const c = change.data;
  const open = c && (c.approvalStatus === 'pending' || c.approvalStatus === 'emergency');
  return (
    <>
      <PageHeader
        title={c ? c.title : 'Change'}
        back="/changes"
        subtitle={
          c && (
            <>
              <Badge tone={impactTone(c.impactLevel)}>{c.impactLevel} impact</Badge>{' '}
              <Badge tone={approvalTone(c.approvalStatus)}>{c.approvalStatus}</Badge>{' '}
              {c.rolledBack && <Badge tone="warn">rolled back</Badge>} {label(c.changeType)} · {c.environment}{' '}
              · {fmtTime(c.deployedAt)}
            </>
          )
        }
        actions={
          open && (
            <>
              <button
                className="button"
                onClick={() => {
                  setRefusal(null);
                  setDialog('approve');
                }}
              >
                Approve
              </button>
              <button
                className="button secondary"
                onClick={() => {
                  setRefusal(null);
                  setDialog('reject');
                }}
              >
                Reject
              </button>
            </>
          )
        }
      />
      {refusal && (
        <div className="notice bad" role="alert">
          {refusal}
        </div>
      )}
      {change.isPending && <Loading what="change" />}
      {change.error && <ErrorState error={change.error} retry={() => void change.refetch()} />}
      {c && (
        <div className="detail">
          <Section title="Change information">
            <Fields
              rows={[
                ['Title', c.title],
                ['Type', label(c.changeType)],
                ['Description', c.description ? <span className="prewrap">{c.description}</span> : null],
                ['Version', c.version],
                ['Environment', c.environment],
              ]}
            />
          </Section>
          <Section title="Impact assessment">
            <Fields
              rows={[
                ['Impact level', <Badge tone={impactTone(c.impactLevel)}>{c.impactLevel}</Badge>],
                ['Affected systems', c.affectedSystems.length ? c.affectedSystems.join(', ') : null],
              ]}
            />
          </Section>
          <Section title="Change management">
            <Fields
              rows={[
                ['Change request', c.changeRequestId],
                ['Approval', <Badge tone={approvalTone(c.approvalStatus)}>{c.approvalStatus}</Badge>],
                ['Approved by', person(c.approvedBy)],
                ['Approved at', c.approvedAt ? fmtTime(c.approvedAt) : null],
              ]}
            />
          </Section>
          <Section title="Execution">
            <Fields
              rows={[
                ['Performed by', person(c.performedBy)],
                ['Deployed at', fmtTime(c.deployedAt)],
                ['Git commit', c.gitCommit ? <code>{c.gitCommit}</code> : null],
                ['Git branch', c.gitBranch],
                ['Committed at', c.gitCommittedAt ? fmtTime(c.gitCommittedAt) : null],
              ]}
            />
          </Section>
          <Section title="Rollback">
            <Fields
              rows={[
                ['Can roll back', c.canRollback ? 'yes' : 'no'],
                [
                  'Instructions',
                  c.rollbackInstructions ? <span className="prewrap">{c.rollbackInstructions}</span> : null,
                ],
                [
                  'Rolled back',
                  c.rolledBack ? <Badge tone="warn">yes{c.rollbackForced ? ' (forced)' : ''}</Badge> : 'no',
                ],
                ['Rolled back at', c.rolledBackAt ? fmtTime(c.rolledBackAt) : null],
                ['Rolled back by', person(c.rolledBackBy)],
                ['Rollback notes', c.rollbackNotes],
              ]}
            />
          </Section>
          <Section title="Testing & validation">
            <Fields
              rows={[
                [
                  'Validation',
                  <Badge
                    tone={
                      c.validationStatus === 'passed'
                        ? 'ok'
                        : c.validationStatus === 'failed'
                          ? 'bad'
                          : 'muted'
                    }
                  >
                    {c.validationStatus}
                  </Badge>,
                ],
                ['Testing notes', c.testingNotes ? <span className="prewrap">{c.testingNotes}</span> : null],
              ]}
            />
          </Section>
          <Section title="Documentation">
            <Fields
              rows={[
                [
                  'Documentation',
                  c.documentationUrl ? (
                    <a href={c.documentationUrl} target="_blank" rel="noreferrer noopener">
                      {c.documentationUrl}
                    </a>
                  ) : null,
                ],
                ['Ticket', c.ticket],
              ]}
            />
          </Section>
          <Section title="Metadata">
            <Fields
              rows={[
                ['Created', fmtTime(c.createdAt)],
                ['Updated', fmtTime(c.updatedAt)],
                ['Id', <code>{c.id}</code>],
              ]}
            />
            {Object.keys(c.metadata).length > 0 && <Json value={c.metadata} />}
          </Section>
          <Section title="History" full>
            <ol className="timeline" aria-label="History, oldest first">
              {c.history.map((h) => (
                <li key={h.id} className={`tl-${h.action}`}>
                  <div className="tl-head">
                    <strong>{label(h.action)}</strong>
                    {h.field && <span className="muted"> · {h.field}</span>}{' '}
                    <span className="muted">by {person(h.by)}</span>
                    <time className="muted small" dateTime={h.at}>
                      {fmtTime(h.at)}
                    </time>
                  </div>
                  {h.field && (
                    <div className="small">
                      <span className="old">{showValue(h.oldValue)}</span> →{' '}
                      <span className="new">{showValue(h.newValue)}</span>
                    </div>
                  )}
                  {h.note && <div className="small prewrap">“{h.note}”</div>}
                </li>
              ))}
            </ol>
          </Section>
        </div>
      )}
      {dialog && (
        <Confirm
          title={dialog === 'approve' ? 'Approve this change?' : 'Reject this change?'}
          confirmText={dialog === 'approve' ? 'Approve' : 'Reject'}
          danger={dialog === 'reject'}
          busy={act.isPending}
          onCancel={() => setDialog(null)}
          onConfirm={() => {
            if (dialog === 'reject' && !text.trim()) return;
            act.mutate(dialog);
          }}
        >
          <p>
            You ({props.user.username}) will be recorded as the{' '}
            {dialog === 'approve' ? 'approver' : 'person who rejected it'}. A rejection is final.
          </p>
          <label className="field block">
            <span>{dialog === 'approve' ? 'Note (optional)' : 'Reason (required)'}</span>
            <textarea
              value={text}
              onChange={(e) => setText(e.target.value)}
              rows={2}
              maxLength={2000}
              required={dialog === 'reject'}
            />
          </label>
        </Confirm>
      )}
    </>
  );
}
