#!/usr/bin/env node
/**
 * Regenerates the SIEM schema fixtures the export tests validate against, from the official sources:
 * - test/schemas/ocsf-1.3.0.schema.json: a JSON Schema (draft 2020-12) for the OCSF 1.3.0 classes
 *   Trailguard emits, compiled from a checkout of the ocsf/ocsf-schema repository at tag 1.3.0
 *   (classes with their `extends` chain and `$include`s, objects with theirs, dictionary types, enums of
 *   the `_id` attributes, `required` and the `at_least_one` / `just_one` constraints). Attributes a class
 *   or object does not define are refused, as the OCSF validator does.
 * - test/schemas/ecs-8.11.0-fields.json: the fields of the ECS 8.11.0 field sets Trailguard uses, with
 *   their type and allowed values, reduced from elastic/ecs `generated/ecs/ecs_flat.yml` at v8.11.0.
 *
 * Usage: node scripts/generate-siem-schemas.mjs <ocsf-schema git dir> <ecs git dir>
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';

const [ocsfRepo, ecsRepo] = process.argv.slice(2);
if (!ocsfRepo || !ecsRepo) {
  console.error('usage: generate-siem-schemas.mjs <ocsf-schema git dir> <ecs git dir>');
  process.exit(2);
}
const OUT = fileURLToPath(new URL('../test/schemas/', import.meta.url));

function git(repo, ...args) {
  return execFileSync('git', ['--git-dir', repo, ...args], { encoding: 'utf8', maxBuffer: 256 << 20 });
}

// --- OCSF ----------------------------------------------------------------------------------------
const OCSF_TAG = '1.3.0';
const CLASSES = [
  'events/iam/authentication.json',
  'events/iam/account_change.json',
  'events/findings/detection_finding.json',
  'events/application/api.json',
  'events/application/application_lifecycle.json',
];
const show = (path) => JSON.parse(git(ocsfRepo, 'show', `${OCSF_TAG}:${path}`));
const dictionary = show('dictionary.json');
const categories = show('categories.json').attributes;
const files = git(ocsfRepo, 'ls-tree', '-r', '--name-only', OCSF_TAG).split('\n');
const byName = (dir) => {
  const map = new Map();
  for (const f of files.filter((p) => p.startsWith(`${dir}/`) && p.endsWith('.json'))) {
    const def = show(f);
    if (def.name) map.set(def.name, def);
  }
  return map;
};
const objects = byName('objects');
const events = byName('events');

/**
 * A definition's attributes after its `$include`s (included first, its own on top). A profile's
 * attributes belong to an event only when it declares the profile in `metadata.profiles`; Trailguard
 * declares none, so they are left out, as the OCSF server leaves them out of a class without profiles.
 */
function ownAttributes(def) {
  const out = {};
  for (const inc of def.attributes?.$include ?? []) {
    if (inc.startsWith('profiles/')) continue;
    merge(out, show(inc).attributes ?? {});
  }
  const own = { ...def.attributes };
  delete own.$include;
  merge(out, own);
  return out;
}
function merge(into, from) {
  for (const [k, v] of Object.entries(from)) {
    if (k === '$include') continue;
    // Enum values add up along the chain, as the OCSF compiler merges them (0 Unknown and 99 Other come
    // from the classification include, the activities from the class).
    const enumValues = into[k]?.enum && v.enum ? { enum: { ...into[k].enum, ...v.enum } } : {};
    into[k] = { ...into[k], ...v, ...enumValues };
  }
}
/** Attributes and constraints along the `extends` chain, the most derived last. */
function resolve(def, pool) {
  const chain = [];
  for (let d = def; d; d = d.extends ? pool.get(d.extends) : undefined) chain.unshift(d);
  const attributes = {};
  let constraints;
  for (const d of chain) {
    merge(attributes, ownAttributes(d));
    if (d.constraints) constraints = d.constraints;
  }
  return { attributes, constraints };
}

const TYPES = dictionary.types.attributes;
function baseType(t) {
  let type = t;
  while (TYPES[type]?.type) type = TYPES[type].type;
  return type;
}
const JSON_TYPE = {
  string_t: { type: 'string' },
  integer_t: { type: 'integer' },
  long_t: { type: 'integer' },
  float_t: { type: 'number' },
  boolean_t: { type: 'boolean' },
  json_t: {},
};

const defs = {};
const pending = [];
function objectRef(name) {
  if (name === 'object') return { type: 'object' };
  if (!defs[name] && !pending.includes(name)) pending.push(name);
  return { $ref: `#/$defs/${name}` };
}
function attributeSchema(name, local) {
  const dict = dictionary.attributes[name];
  if (!dict) throw new Error(`attribute ${name} is not in the dictionary`);
  const type = local.type ?? dict.type;
  let schema;
  if (type.endsWith('_t')) {
    const base = baseType(type);
    schema = { ...JSON_TYPE[base] };
    const regex = TYPES[type]?.regex;
    if (regex) schema.pattern = regex;
  } else schema = objectRef(type);
  const values = local.enum ?? dict.enum;
  if (values && name.endsWith('_id')) schema = { ...schema, enum: Object.keys(values).map(Number) };
  return dict.is_array ? { type: 'array', items: schema } : schema;
}
function constraintSchemas(constraints) {
  const all = [];
  if (constraints?.at_least_one)
    all.push({ anyOf: constraints.at_least_one.map((a) => ({ required: [a] })) });
  if (constraints?.just_one) all.push({ oneOf: constraints.just_one.map((a) => ({ required: [a] })) });
  return all;
}
function objectSchema({ attributes, constraints }) {
  const properties = {};
  const required = [];
  for (const [name, local] of Object.entries(attributes)) {
    properties[name] = attributeSchema(name, local);
    if (local.requirement === 'required') required.push(name);
  }
  const allOf = constraintSchemas(constraints);
  return {
    type: 'object',
    properties,
    ...(required.length ? { required } : {}),
    additionalProperties: false,
    ...(allOf.length ? { allOf } : {}),
  };
}

const classes = {};
for (const path of CLASSES) {
  const def = show(path);
  const resolved = resolve(def, events);
  const schema = objectSchema(resolved);
  let category = def.category;
  for (let d = def; !category && d?.extends; d = events.get(d.extends))
    category = events.get(d.extends)?.category;
  const categoryUid = categories[category].uid;
  const classUid = categoryUid * 1000 + def.uid;
  const activities = Object.keys(resolved.attributes.activity_id.enum).map(Number);
  schema.properties.class_uid = { const: classUid };
  schema.properties.category_uid = { const: categoryUid };
  schema.properties.type_uid = { enum: activities.map((a) => classUid * 100 + a) };
  classes[classUid] = def.name;
  defs[def.name] = schema;
}
while (pending.length) {
  const name = pending.shift();
  const def = objects.get(name);
  if (!def) throw new Error(`object ${name} not found`);
  defs[name] = objectSchema(resolve(def, objects));
}
const ocsf = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $comment: `Generated by scripts/generate-siem-schemas.mjs from ocsf/ocsf-schema ${OCSF_TAG} (Apache-2.0).`,
  classes,
  $defs: defs,
};
writeFileSync(`${OUT}ocsf-${OCSF_TAG}.schema.json`, `${JSON.stringify(ocsf)}\n`);

// --- ECS -----------------------------------------------------------------------------------------
const ECS_TAG = 'v8.11.0';
const FIELD_SETS = [
  'base',
  'ecs',
  'event',
  'user',
  'source',
  'user_agent',
  'log',
  'rule',
  'service',
  'threat',
];
const flat = yaml.load(git(ecsRepo, 'show', `${ECS_TAG}:generated/ecs/ecs_flat.yml`));
const fields = {};
for (const [name, f] of Object.entries(flat)) {
  const set = name.includes('.') ? name.slice(0, name.indexOf('.')) : 'base';
  if (
    !FIELD_SETS.includes(set) &&
    !(set === 'base' || ['@timestamp', 'labels', 'message', 'tags'].includes(name))
  )
    continue;
  fields[name] = {
    type: f.type,
    ...(f.normalize?.includes('array') ? { array: true } : {}),
    ...(f.allowed_values
      ? {
          allowed: f.allowed_values.map((v) => v.name),
          ...(f.allowed_values.some((v) => v.expected_event_types)
            ? {
                expected_event_types: Object.fromEntries(
                  f.allowed_values
                    .filter((v) => v.expected_event_types)
                    .map((v) => [v.name, v.expected_event_types]),
                ),
              }
            : {}),
        }
      : {}),
  };
}
writeFileSync(
  `${OUT}ecs-8.11.0-fields.json`,
  `${JSON.stringify({ $comment: `Generated by scripts/generate-siem-schemas.mjs from elastic/ecs ${ECS_TAG} generated/ecs/ecs_flat.yml (Apache-2.0).`, fields }, null, 0)}\n`,
);
console.log(`wrote ${Object.keys(defs).length} OCSF definitions, ${Object.keys(fields).length} ECS fields`);
