/**
 * Boundary validation: TypeBox schemas compiled once, failures turned into TrailguardErrors that name
 * the field. Inside the core, values that passed here are trusted.
 * @module
 */
import Type from 'typebox';
import type { TSchema, Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { isIP } from 'node:net';
import type { TrailguardError } from './errors.ts';
import { invalid } from './errors.ts';

/** A string schema restricted to `values`; errors list the allowed values. */
export function StringEnum<const T extends readonly string[]>(
  values: T,
  options: { description?: string } = {},
) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

interface ValidationIssue {
  keyword: string;
  instancePath: string;
  schemaPath?: string;
  params: Record<string, unknown>;
  message: string;
}

/**
 * Compiles `schema` once and returns a function that returns the value typed or throws VALIDATION_FAILED.
 * The error's field is dotted below `prefix`; an issue with the value as a whole names `root`.
 */
export function validator<T extends TSchema>(
  schema: T,
): (value: unknown, prefix?: string, root?: string) => Static<T> {
  const compiled = Compile(schema);
  return (value, prefix = '', root = 'input') => {
    if (compiled.Check(value)) return value as Static<T>;
    const issues = [...(compiled.Errors(value) as Iterable<ValidationIssue>)];
    throw issueToError(pickIssue(issues), prefix, root, schema);
  };
}

/** The subschema at a JSON pointer such as `#/anyOf/1`, or undefined. */
function schemaAt(schema: unknown, pointer: string | undefined): Record<string, unknown> | undefined {
  if (pointer === undefined || !pointer.startsWith('#')) return undefined;
  let node: unknown = schema;
  for (const part of pointer.slice(1).split('/').filter(Boolean)) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return typeof node === 'object' && node !== null ? (node as Record<string, unknown>) : undefined;
}

// Prefer the most specific issue: a named property over the object itself, and a concrete keyword
// (enum, type, minLength) over the union wrapper.
function pickIssue(issues: ValidationIssue[]): ValidationIssue | undefined {
  const ranked = issues.filter((i) => i.keyword !== 'boolean').sort((a, b) => score(b) - score(a));
  return ranked[0] ?? issues[0];
}

function score(i: ValidationIssue): number {
  let s = i.instancePath.split('/').length * 10;
  if (i.keyword === 'required' || i.keyword === 'additionalProperties') s += 5;
  if (i.keyword === 'anyOf' || i.keyword === 'oneOf') s -= 3;
  if (i.keyword === 'const') s -= 5;
  // A union branch of the wrong type says less than a branch of the right type with a failed
  // constraint: `[]` against `object | array(1–1000)` is "1 to 1000 items", not "must be object".
  if (i.keyword === 'type') s -= 1;
  return s;
}

function issueToError(
  issue: ValidationIssue | undefined,
  prefix: string,
  root: string,
  schema: unknown,
): TrailguardError {
  if (!issue) return invalid(prefix || root, 'is invalid');
  const path = issue.instancePath
    .split('/')
    .filter(Boolean)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let field = path.join('.');
  let message = issue.message;
  const p = issue.params;
  if (issue.keyword === 'required' && Array.isArray(p['requiredProperties'])) {
    const missing = String(p['requiredProperties'][0]);
    field = field ? `${field}.${missing}` : missing;
    message = 'is required';
  } else if (issue.keyword === 'additionalProperties' && Array.isArray(p['additionalProperties'])) {
    const extra = String(p['additionalProperties'][0]);
    field = field ? `${field}.${extra}` : extra;
    message = 'is not a known field';
  } else if (issue.keyword === 'enum' && Array.isArray(p['allowedValues'])) {
    message = `must be one of: ${p['allowedValues'].join(', ')}`;
  } else if (issue.keyword === 'minLength' && p['limit'] === 1) {
    message = 'must not be empty';
  } else if (issue.keyword === 'maxLength') {
    message = `must be at most ${String(p['limit'])} characters`;
  } else if (issue.keyword === 'minItems' || issue.keyword === 'maxItems') {
    const array = schemaAt(schema, issue.schemaPath);
    const min = typeof array?.['minItems'] === 'number' ? array['minItems'] : 0;
    const max = array?.['maxItems'];
    message =
      typeof max === 'number'
        ? `must hold ${min} to ${max} items`
        : `must hold at least ${String(p['limit'])} items`;
  }
  const full = prefix ? (field ? `${prefix}.${field}` : prefix) : field || root;
  return invalid(full, message);
}

/** Accepts a Date, an ISO-8601 string or epoch milliseconds; anything else is VALIDATION_FAILED. */
export function parseDate(value: unknown, field: string): Date {
  let d: Date | undefined;
  if (value instanceof Date) d = new Date(value.getTime());
  else if (typeof value === 'number' && Number.isFinite(value)) d = new Date(value);
  else if (typeof value === 'string' && value.trim() !== '') {
    // Date.parse accepts many loose formats; require something that starts like a calendar date, and
    // a day that exists: JavaScript rolls 2026-02-30 over to March 2 without a word.
    const ymd = /^(\d{4})-(\d{2})-(\d{2})/.exec(value.trim());
    if (ymd) {
      const [y, m, day] = [Number(ymd[1]), Number(ymd[2]), Number(ymd[3])];
      if (m < 1 || m > 12 || day < 1 || day > new Date(Date.UTC(y, m, 0)).getUTCDate())
        throw invalid(field, `has no such day: ${ymd[0]}`);
      d = new Date(value.trim());
    }
  }
  if (!d || Number.isNaN(d.getTime()))
    throw invalid(field, 'must be a date (Date, ISO-8601 string or epoch ms)');
  return d;
}

/**
 * Earliest event time stored (`occurredAt` of logins, logouts and security events), and the floor of
 * every date filter: the Unix epoch. The calendar starts there, partitions for older months are only
 * ballast (retention drops them on its next run), and dates before year 100 cannot be stored at all.
 */
export const EARLIEST_EVENT_TIME = new Date(Date.UTC(1970, 0, 1));

/**
 * How far past the clock's now an event time may be: clock skew between the caller and the server,
 * not events from the future. One day, which also bounds the months that ingestion can create
 * partitions for to those from 1970 to next month.
 */
export const MAX_EVENT_SKEW_MS = 24 * 3_600_000;

/**
 * Latest date a query filter may name: 9999-12-31T00:00:00Z. Queries round their ends up to the hour
 * or the day, and year 10000 cannot be sent to PostgreSQL in the form JavaScript writes it.
 */
export const LATEST_QUERY_TIME = new Date(Date.UTC(9999, 11, 31));

/**
 * Parses the time an event happened (see parseDate) and bounds it to EARLIEST_EVENT_TIME …
 * now + MAX_EVENT_SKEW_MS, so every accepted time can be stored, queried and shown in the calendar.
 */
export function parseEventTime(value: unknown, field: string, now: Date): Date {
  const d = parseDate(value, field);
  const t = d.getTime();
  if (t < EARLIEST_EVENT_TIME.getTime()) throw invalid(field, 'must not be before 1970-01-01T00:00:00Z');
  if (t > now.getTime() + MAX_EVENT_SKEW_MS)
    throw invalid(field, 'must not be more than 24 hours in the future');
  return d;
}

/**
 * Parses a date filter, or a stored date that is not an event time (a change's `deployedAt`,
 * `gitCommittedAt`), and bounds it to 1970-01-01 … 9999-12-31: the database cannot store every date
 * JavaScript can hold, and a raw driver error is no answer.
 */
export function parseQueryDate(value: unknown, field: string): Date {
  const d = parseDate(value, field);
  const t = d.getTime();
  if (t < EARLIEST_EVENT_TIME.getTime() || t > LATEST_QUERY_TIME.getTime())
    throw invalid(field, 'must be a date from 1970-01-01 to 9999-12-31');
  return d;
}

/** Normalises an IP address: trims, strips IPv6 zone ids and brackets, maps `::ffff:a.b.c.d` to IPv4. */
export function normalizeIp(value: string): string | null {
  let v = value.trim();
  if (v.startsWith('[') && v.includes(']')) v = v.slice(1, v.indexOf(']'));
  const zone = v.indexOf('%');
  if (zone > 0) v = v.slice(0, zone);
  const kind = isIP(v);
  if (kind === 0) return null;
  if (kind === 6) {
    const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(v);
    if (mapped?.[1] && isIP(mapped[1]) === 4) return mapped[1];
    return v.toLowerCase();
  }
  return v;
}

/** Parses an IP or CIDR filter (`10.0.0.0/8`, `2001:db8::/32`, `1.2.3.4`) or throws on `field`. */
export function parseIpFilter(value: unknown, field: string): { address: string; prefix: number | null } {
  if (typeof value !== 'string' || value.trim() === '') throw invalid(field, 'must be an IP address or CIDR');
  const [addrPart, prefixPart, ...rest] = value.trim().split('/');
  const address = addrPart === undefined ? null : normalizeIp(addrPart);
  if (!address || rest.length > 0)
    throw invalid(field, `'${truncate(value, 64)}' is not an IP address or CIDR`);
  if (prefixPart === undefined) return { address, prefix: null };
  const max = isIP(address) === 4 ? 32 : 128;
  const mappedV4 = isIP(addrPart?.trim() ?? '') === 6 && isIP(address) === 4;
  let prefix = /^\d{1,3}$/.test(prefixPart) ? Number(prefixPart) : NaN;
  if (mappedV4 && prefix >= 96) prefix -= 96;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) {
    throw invalid(field, `prefix length must be 0–${max}`);
  }
  return { address, prefix };
}

/**
 * Strips characters PostgreSQL text cannot hold (NUL), cuts to `max` characters and replaces lone
 * UTF-16 surrogates with U+FFFD. Every stored string goes through here or `cleanJson`, so a value is
 * the same in the returned record, the stored row, the JSON that ships batches to the database
 * (jsonb rejects a lone surrogate) and the log line. The cut comes first: it can split a pair.
 */
export function cleanText(value: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  let s = value.includes('\u0000') ? value.replace(/\u0000/g, '') : value;
  if (s.length > max) s = s.slice(0, max);
  return (s as unknown as WellFormed).isWellFormed() ? s : (s as unknown as WellFormed).toWellFormed();
}

/** Cuts a string for display in an error message. */
export function truncate(value: string, max: number): string {
  return value.length > max ? `${value.slice(0, max)}…` : value;
}

/**
 * Copies a JSON object, removing NUL characters from strings and keys and replacing lone UTF-16
 * surrogates with U+FFFD (jsonb rejects both; text columns get the same replacement from the driver).
 */
export function cleanJson(value: unknown, field: string): unknown {
  return cleanJsonAt(value, 0, field, null);
}

// `field` names the value as `parent` then `key`; the name is only built for an error or a nested
// object or array (whose members need it), not for each member.
function cleanJsonAt(value: unknown, depth: number, parent: string, key: string | number | null): unknown {
  if (depth > 32) throw invalid(pathOf(parent, key), 'is nested too deeply (max 32 levels)');
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'string') return jsonString(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalid(pathOf(parent, key), 'must not contain NaN or Infinity');
    return value;
  }
  if (Array.isArray(value)) {
    const field = pathOf(parent, key);
    const out = new Array<unknown>(value.length);
    // A hole stays a hole (JSON null), as Array.prototype.map leaves it.
    for (let i = 0; i < value.length; i++)
      if (i in value) out[i] = cleanJsonAt(value[i], depth + 1, field, i);
    return out;
  }
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      if (value instanceof Date) return value.toISOString();
      throw invalid(
        pathOf(parent, key),
        'must be plain JSON (objects, arrays, strings, numbers, booleans, null)',
      );
    }
    const field = pathOf(parent, key);
    const out: Record<string, unknown> = {};
    const source = value as Record<string, unknown>;
    for (const k in source) {
      if (!Object.hasOwn(source, k)) continue;
      const v = source[k];
      if (v === undefined) continue;
      out[jsonString(cleanText(k, 256))] = cleanJsonAt(v, depth + 1, field, k);
    }
    return out;
  }
  throw invalid(pathOf(parent, key), `must be plain JSON, not ${typeof value}`);
}

// ES2024 string methods (Node ≥ 20), not in the ES2023 lib this project compiles against.
type WellFormed = { isWellFormed(): boolean; toWellFormed(): string };

function jsonString(value: string): string {
  return cleanText(value, value.length);
}

function pathOf(parent: string, key: string | number | null): string {
  return key === null ? parent : typeof key === 'number' ? `${parent}[${key}]` : `${parent}.${key}`;
}

/** A plain-object check: not null, not an array, not a class instance. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export { Type };
export type { Static, TSchema };
