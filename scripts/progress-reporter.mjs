// A node:test reporter that prints one line per finished test file — how many of the run's files are
// done, that file's counts and the time so far — beside the spec reporter's per-test lines, so a long
// run on a slow machine shows where it is. The total comes from TRAILGUARD_TEST_FILES (set by
// run-tests.mjs).
import { relative } from 'node:path';

const total = Number(process.env.TRAILGUARD_TEST_FILES) || 0;
const started = Date.now();

function elapsed() {
  const s = Math.round((Date.now() - started) / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

export default async function* progress(source) {
  const counts = new Map();
  let done = 0;
  for await (const { type, data } of source) {
    if (!data?.file) continue;
    let c = counts.get(data.file);
    if (!c) counts.set(data.file, (c = { passed: 0, failed: 0, skipped: 0 }));
    if (type === 'test:complete' && data.name === data.file) {
      // The runner reports the file itself as a test once its process has finished.
      done += 1;
      counts.delete(data.file);
      const mark = c.failed || data.details?.passed === false ? '✖' : '✔';
      const of = total ? `/${total}` : '';
      const skipped = c.skipped ? `, ${c.skipped} skipped` : '';
      yield `── [${done}${of} files, ${elapsed()}] ${mark} ${relative(process.cwd(), data.file)}: ${c.passed} passed, ${c.failed} failed${skipped}\n`;
      continue;
    }
    // Count tests, not the suites that group them.
    if ((type !== 'test:pass' && type !== 'test:fail') || data.details?.type === 'suite') continue;
    if (data.skip || data.todo) c.skipped += 1;
    else if (type === 'test:pass') c.passed += 1;
    else c.failed += 1;
  }
}
