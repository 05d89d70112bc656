/**
 * Drives a real server over HTTP on an ephemeral port.
 */
import type { FastifyInstance } from 'fastify';
import { createServer } from '../../src/http/server.ts';
import type { ServerOptions } from '../../src/http/server.ts';
import { createAuthService } from '../../src/auth/auth-service.ts';
import type { AuthService } from '../../src/auth/auth-service.ts';
import type { Trailguard } from '../../src/index.ts';

export interface TestServer {
  app: FastifyInstance;
  auth: AuthService;
  url: string;
  keys: { ingest: string; read: string; admin: string };
  /** fetch relative to the server, JSON body when `json` is given. */
  call(
    method: string,
    path: string,
    init?: { json?: unknown; body?: string; headers?: Record<string, string>; key?: string | null },
  ): Promise<{ status: number; body: unknown; headers: Headers }>;
  close(): Promise<void>;
}

export async function startServer(tg: Trailguard, options: ServerOptions = {}): Promise<TestServer> {
  const auth = options.auth ?? createAuthService({ db: tg.database.db, clock: tg.config.clock });
  const app = await createServer(tg, { processMetrics: false, webRoot: false, ...options, auth });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  const url = `http://127.0.0.1:${address.port}`;
  const keys = {
    ingest: (await auth.apiKeys.create({ name: 'test-ingest', scope: 'ingest' })).secret,
    read: (await auth.apiKeys.create({ name: 'test-read', scope: 'read' })).secret,
    admin: (await auth.apiKeys.create({ name: 'test-admin', scope: 'admin' })).secret,
  };
  return {
    app,
    auth,
    url,
    keys,
    async call(method, path, init = {}) {
      const headers: Record<string, string> = { ...(init.headers ?? {}) };
      if (init.key) headers['authorization'] = `Bearer ${init.key}`;
      let body: string | undefined = init.body;
      if (init.json !== undefined) {
        body = JSON.stringify(init.json);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(`${url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
      const text = await res.text();
      let parsed: unknown = text;
      if ((res.headers.get('content-type') ?? '').includes('json') && text !== '') parsed = JSON.parse(text);
      return { status: res.status, body: parsed, headers: res.headers };
    },
    close: () => app.close(),
  };
}

/** Number of rows in login_history. */
export async function loginCount(tg: Trailguard): Promise<number> {
  await tg.logins.flush();
  const r = await tg.database.db
    .selectFrom('login_history')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}
