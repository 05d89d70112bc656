/**
 * The `location` of a security log line: the application's frame that called Trailguard, its file and
 * line as the source reads (through source maps when they are on, as under this test runner) and
 * its function, whether or not something formatted the stack first.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { callSiteOf, captureTrace } from '../../src/security/call-site.ts';

const SOURCE = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
/** The 1-based line of this file that ends with the marker comment `// at:<name>`. */
const lineOf = (name: string) => SOURCE.findIndex((l) => l.trimEnd().endsWith(`// at:${name}`)) + 1;

function namedCaller(): Error {
  return captureTrace(); // at:named
}

class Reporter {
  report(): Error {
    return captureTrace(); // at:method
  }
}

describe('call site of a security log line', () => {
  it('names the application file, the line of the call and the function', () => {
    const site = callSiteOf(namedCaller());
    assert.match(site.file ?? '', /test\/security\/call-site\.test\.ts$/);
    assert.ok(lineOf('named') > 0);
    assert.equal(site.line, lineOf('named'));
    assert.equal(site.function, 'namedCaller');
  });

  it('names a method with its class', () => {
    const site = callSiteOf(new Reporter().report());
    assert.equal(site.line, lineOf('method'));
    assert.equal(site.function, 'Reporter.report');
  });

  it("reads the frames without formatting the stack (the costly part) under Node's own formatting", () => {
    const trace = namedCaller();
    callSiteOf(trace);
    // V8 keeps what the first read of `stack` returned: the frames, not text.
    assert.ok(Array.isArray(trace.stack as unknown), 'the stack was formatted to text');
  });

  it('gives the same answer when the stack was already formatted', () => {
    const trace = namedCaller();
    assert.ok(trace.stack?.includes('namedCaller'));
    const site = callSiteOf(trace);
    assert.match(site.file ?? '', /test\/security\/call-site\.test\.ts$/);
    assert.equal(site.line, lineOf('named'));
    assert.equal(site.function, 'namedCaller');
  });

  it("reads the application's own stack formatting when it has one (as source-map-support installs)", () => {
    const before = Error.prepareStackTrace;
    // A formatter that maps every frame of this file to its "original" source, as a source map would.
    Error.prepareStackTrace = (err, sites) =>
      [
        String(err),
        ...sites.map((s) => {
          const file = s.getFileName() ?? '';
          const ours = file.includes('call-site.test');
          const line = (s.getLineNumber() ?? 0) + (ours ? 1000 : 0);
          return `    at ${s.getFunctionName() ?? '<anonymous>'} (${ours ? '/app/src/original.ts' : file}:${line}:1)`;
        }),
      ].join('\n');
    try {
      const site = callSiteOf(namedCaller());
      assert.equal(site.file, '/app/src/original.ts');
      assert.ok(site.line !== null && site.line > 1000);
      assert.equal(site.function, 'namedCaller');
    } finally {
      Error.prepareStackTrace = before;
    }
  });

  it('leaves the global stack formatting as it was', () => {
    const before = Error.prepareStackTrace;
    callSiteOf(namedCaller());
    assert.equal(Error.prepareStackTrace, before);
    assert.equal(typeof new Error('x').stack, 'string');
  });

  it('gives nulls without a trace', () => {
    assert.deepEqual(callSiteOf(undefined), { file: null, line: null, function: null });
  });
});
