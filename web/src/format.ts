/** Display helpers. Times are shown in the browser's time zone; the API speaks UTC ISO-8601. */

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

export function fmtDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

export function fmtPct(v: number | null | undefined, digits = 1): string {
  return v === null || v === undefined ? '—' : `${v.toFixed(digits)} %`;
}

export function fmtNum(v: number | null | undefined, digits = 0): string {
  return v === null || v === undefined ? '—' : v.toLocaleString(undefined, { maximumFractionDigits: digits });
}

export function label(s: string): string {
  return s.replace(/_/g, ' ');
}

/** `YYYY-MM-DD` of a UTC day, for date inputs and the drill-down. */
export function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** A date input's value (a UTC day) → the ISO instant at its start, or the start of the next day. */
export function dayStart(day: string, next = false): string {
  const d = new Date(`${day}T00:00:00.000Z`);
  if (next) d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString();
}

const IPV4 = /^(\d{1,3}\.){3}\d{1,3}(\/\d{1,2})?$/;
const IPV6 = /^[0-9a-f:.]+(\/\d{1,3})?$/i;

/** True when the text is an IP address or CIDR block (so a search box can route it to `ip=`). */
export function looksLikeIp(text: string): boolean {
  const t = text.trim();
  return IPV4.test(t) || (t.includes(':') && IPV6.test(t));
}
