/**
 * Checks documents against the official SIEM schemas vendored in test/schemas (regenerate them with
 * scripts/generate-siem-schemas.mjs): OCSF 1.3.0 through ajv, ECS 8.11 field by field.
 */
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';

const read = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../schemas/${name}`, import.meta.url), 'utf8'));

const ocsf = read('ocsf-1.3.0.schema.json') as { classes: Record<string, string>; $defs: object };
const ajv = new Ajv2020.default({ allErrors: true, strict: false });
ajv.addSchema({ ...ocsf, $id: 'ocsf' });
const validators = new Map<number, ValidateFunction>();

/** The OCSF 1.3.0 violations of `event` for its `class_uid` (empty when valid). */
export function ocsfErrors(event: Record<string, unknown>): string[] {
  const uid = event['class_uid'];
  const name = typeof uid === 'number' ? ocsf.classes[String(uid)] : undefined;
  if (!name) return [`class_uid ${String(uid)} is not one of the vendored classes`];
  let validate = validators.get(uid as number);
  if (!validate) {
    validate = ajv.getSchema(`ocsf#/$defs/${name}`);
    if (!validate) throw new Error(`no schema for ${name}`);
    validators.set(uid as number, validate);
  }
  if (validate(event)) return [];
  return (validate.errors ?? []).map(
    (e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
  );
}

interface EcsField {
  type: string;
  array?: boolean;
  allowed?: string[];
  expected_event_types?: Record<string, string[]>;
}
const ecs = (read('ecs-8.11.0-fields.json') as { fields: Record<string, EcsField> }).fields;

/** The flat field names of a document with their values (`{a: {b: 1}, 'c.d': 2}` → `a.b`, `c.d`). */
function flatten(doc: Record<string, unknown>, prefix = '', out = new Map<string, unknown>()) {
  for (const [k, v] of Object.entries(doc)) {
    const name = prefix + k;
    if (ecs[name]?.type === 'object' || ecs[name]?.type === 'flattened') out.set(name, v);
    else if (v !== null && typeof v === 'object' && !Array.isArray(v))
      flatten(v as Record<string, unknown>, `${name}.`, out);
    else out.set(name, v);
  }
  return out;
}

function typeOk(type: string, v: unknown): boolean {
  switch (type) {
    case 'keyword':
    case 'constant_keyword':
    case 'wildcard':
    case 'match_only_text':
    case 'text':
      return typeof v === 'string';
    case 'date':
      return typeof v === 'string' && !Number.isNaN(Date.parse(v));
    case 'ip':
      return typeof v === 'string' && /^[0-9a-fA-F:.]+$/.test(v);
    case 'long':
    case 'integer':
    case 'short':
    case 'byte':
      return typeof v === 'number' && Number.isInteger(v);
    case 'float':
    case 'scaled_float':
    case 'double':
      return typeof v === 'number';
    case 'boolean':
      return typeof v === 'boolean';
    case 'object':
    case 'flattened':
      return v !== null && typeof v === 'object';
    default:
      return false;
  }
}

/**
 * ECS 8.11 violations of `doc`: a field ECS does not define (outside Trailguard's own `trailguard.*`
 * namespace), a value of the wrong type, a value outside a field's allowed values, an `event.type`
 * not expected with one of the document's `event.category` values, and nulls.
 */
export function ecsErrors(doc: Record<string, unknown>): string[] {
  const errors: string[] = [];
  const fields = flatten(doc);
  for (const [name, value] of fields) {
    if (name === 'trailguard' || name.startsWith('trailguard.')) continue;
    const f = ecs[name];
    if (!f) {
      errors.push(`${name} is not an ECS field`);
      continue;
    }
    if (value === null || value === undefined) {
      errors.push(`${name} is null`);
      continue;
    }
    const values = Array.isArray(value) ? value : [value];
    if (Array.isArray(value) && f.type !== 'keyword' && !f.array) errors.push(`${name} is an array`);
    for (const v of values) {
      if (!typeOk(f.type, v)) errors.push(`${name}: ${JSON.stringify(v)} is not a ${f.type}`);
      if (f.allowed && !f.allowed.includes(v as string)) errors.push(`${name}: ${String(v)} is not allowed`);
    }
    if (name === 'labels' && typeof value === 'object') {
      for (const [k, v] of Object.entries(value as object))
        if (typeof v !== 'string') errors.push(`labels.${k} must be a keyword`);
    }
  }
  const categories = fields.get('event.category');
  const types = fields.get('event.type');
  const expected = ecs['event.category']?.expected_event_types ?? {};
  if (Array.isArray(categories) && Array.isArray(types)) {
    for (const c of categories as string[])
      for (const t of types as string[])
        if (!(expected[c] ?? []).includes(t))
          errors.push(`event.type ${t} is not expected with category ${c}`);
  }
  return errors;
}
