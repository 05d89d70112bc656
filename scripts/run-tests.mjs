#!/usr/bin/env node
// Runs every test file with node's test runner (TypeScript through tsx), and says up front which
// backend suites will be skipped on this machine and why.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const roots = ['src', 'test', 'examples'];
const args = process.argv.slice(2);

function walk(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const full = join(dir, name);
    if (statSync(full).isDirectory()) walk(full, out);
    else if (/\.test\.(ts|mts|js|mjs)$/.test(name)) out.push(relative(root, full));
  }
  return out;
}

const filter = args.filter((a) => !a.startsWith('-'));
let files = roots.flatMap((r) => walk(join(root, r), [])).sort();
if (filter.length) files = files.filter((f) => filter.some((x) => f.includes(x)));

const skipped = [];
if (!process.env.TRAILGUARD_TEST_DATABASE_URL)
  skipped.push('PostgreSQL suites: TRAILGUARD_TEST_DATABASE_URL is not set (PGlite suites still run)');
if (!process.env.TRAILGUARD_TEST_REDIS_URL)
  skipped.push('Redis suites: TRAILGUARD_TEST_REDIS_URL is not set (in-process detection suites still run)');
if (process.env.TRAILGUARD_TEST_BROWSER === '0') skipped.push('browser suites: TRAILGUARD_TEST_BROWSER=0');

console.log(`trailguard tests: ${files.length} files`);
for (const s of skipped) console.log(`  skipping ${s}`);
if (!skipped.length) console.log('  all backends configured: PGlite, PostgreSQL, Redis');

const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    `--test-reporter=${join(root, 'scripts', 'progress-reporter.mjs')}`,
    '--test-reporter-destination=stdout',
    ...args.filter((a) => a.startsWith('-')),
    ...files,
  ],
  {
    stdio: 'inherit',
    cwd: root,
    env: { ...process.env, NODE_ENV: 'test', TRAILGUARD_TEST_FILES: String(files.length) },
  },
);
if (skipped.length) {
  console.log('\nskipped on this machine:');
  for (const s of skipped) console.log(`  - ${s}`);
}
process.exit(result.status ?? 1);
