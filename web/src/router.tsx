/**
 * A small client-side router over the History API: the path picks the page, the query string holds
 * the filters (so a view can be shared by its URL).
 * @module
 */
import { useCallback, useSyncExternalStore } from 'react';
import type { AnchorHTMLAttributes, MouseEvent, ReactNode } from 'react';

const listeners = new Set<() => void>();

function subscribe(fn: () => void): () => void {
  listeners.add(fn);
  window.addEventListener('popstate', fn);
  return () => {
    listeners.delete(fn);
    window.removeEventListener('popstate', fn);
  };
}

const snapshot = () => window.location.pathname + window.location.search;

export function navigate(to: string, replace = false): void {
  if (to === snapshot()) return;
  if (replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  window.scrollTo?.(0, 0);
  for (const fn of listeners) fn();
}

/** The current path and query parameters. */
export function useLocation(): { path: string; params: URLSearchParams } {
  const href = useSyncExternalStore(subscribe, snapshot);
  const [path, search = ''] = href.split('?');
  return { path: path ?? '/', params: new URLSearchParams(search) };
}

/** Filters in the URL: read them, and replace some (dropping the cursor, since the list changes). */
export function useSearchParams(): [
  URLSearchParams,
  (patch: Record<string, string | null>, keepCursor?: boolean) => void,
] {
  const { path, params } = useLocation();
  const update = useCallback(
    (patch: Record<string, string | null>, keepCursor = false) => {
      const next = new URLSearchParams(window.location.search);
      if (!keepCursor) next.delete('cursor');
      for (const [k, v] of Object.entries(patch)) {
        if (v === null || v === '') next.delete(k);
        else next.set(k, v);
      }
      const s = next.toString();
      navigate(`${path}${s ? `?${s}` : ''}`);
    },
    [path],
  );
  return [params, update];
}

/** Builds `path?query` from non-empty values. */
export function href(
  path: string,
  q: Record<string, string | number | boolean | null | undefined> = {},
): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `${path}?${s}` : path;
}

export function Link(props: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string; children: ReactNode }) {
  const { to, onClick, ...rest } = props;
  return (
    <a
      {...rest}
      href={to}
      onClick={(e: MouseEvent<HTMLAnchorElement>) => {
        onClick?.(e);
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(to);
      }}
    />
  );
}
