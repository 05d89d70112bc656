/**
 * The server's credentials: scoped API keys, admin users with cookie sessions, and viewer tokens that
 * let an application's end user read their own login history. Used by `src/http` and the CLI.
 * @module
 */
import type { Kysely } from 'kysely';
import { newId } from '../domain/ids.ts';
import type { Clock } from '../domain/clock.ts';
import { TrailguardError, invalid } from '../domain/errors.ts';
import type { Database } from '../store/schema.ts';
import { normalizeUserId } from '../logins/login-service.ts';
import './error-codes.ts';
import { generatePassword, hashPassword, newSecret, sha256, verifyPassword } from './secrets.ts';

/** What an API key may do. `admin` includes `read` and `ingest`. */
export const API_KEY_SCOPES = ['ingest', 'read', 'admin'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** An API key as listed (never the key itself). */
export interface ApiKeyInfo {
  id: string;
  name: string;
  scope: ApiKeyScope;
  /** The first characters of the key, to recognise it. */
  prefix: string;
  createdAt: Date;
  createdBy: string | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** An admin user as listed (never the password hash). */
export interface AdminUser {
  id: string;
  username: string;
  createdAt: Date;
  passwordChangedAt: Date;
  disabledAt: Date | null;
}

export interface AuthServiceDeps {
  db: Kysely<Database>;
  clock: Clock;
  /** Session lifetime. @default 12 h */
  sessionTtlMs?: number | undefined;
  /** How long a key lookup is cached in this process (revocation elsewhere takes this long). @default 5 s */
  keyCacheMs?: number | undefined;
}

export interface AuthService {
  apiKeys: {
    /** Creates a key; the secret is returned once and only its hash is stored. */
    create(input: { name: string; scope: string; createdBy?: string | undefined }): Promise<{
      key: ApiKeyInfo;
      secret: string;
    }>;
    list(): Promise<ApiKeyInfo[]>;
    /** Revokes a key (idempotent); NOT_FOUND for an unknown id. */
    revoke(id: string): Promise<ApiKeyInfo>;
    /** The active key for a presented secret, or null. */
    authenticate(secret: string): Promise<ApiKeyInfo | null>;
  };
  users: {
    /** Creates an admin user; without a password one is generated and returned. */
    create(input: { username: string; password?: string | undefined }): Promise<{
      user: AdminUser;
      password: string | null;
    }>;
    list(): Promise<AdminUser[]>;
    count(): Promise<number>;
    /** Disables a user and ends their sessions; the last active admin cannot be removed. */
    disable(idOrUsername: string): Promise<AdminUser>;
    setPassword(idOrUsername: string, password: string): Promise<AdminUser>;
    /** The active user whose password matches, or null (same cost whether or not the user exists). */
    verify(username: string, password: string): Promise<AdminUser | null>;
  };
  sessions: {
    /** Starts a session; the raw session key goes into the cookie, its hash into the table. */
    create(userId: string): Promise<{ sessionKey: string; csrfToken: string; expiresAt: Date }>;
    authenticate(sessionKey: string): Promise<{ user: AdminUser; expiresAt: Date } | null>;
    destroy(sessionKey: string): Promise<void>;
  };
  viewerTokens: {
    /** A token for one end user, valid `ttlSeconds` (default 900, max 3600). */
    issue(input: { userId: string | number; ttlSeconds?: number | undefined; issuedBy: string }): Promise<{
      token: string;
      userId: string;
      expiresAt: Date;
    }>;
    authenticate(token: string): Promise<{ userId: string; expiresAt: Date } | null>;
  };
}

/** The CSRF token of a session: derived from the session key, so it needs no storage and reveals nothing. */
export function csrfTokenFor(sessionKey: string): string {
  return sha256(`trailguard-csrf:${sessionKey}`).slice(0, 43);
}

const USERNAME_RE = /^[A-Za-z0-9._@+-]{1,64}$/;
const MIN_PASSWORD = 12;
const MAX_PASSWORD = 1024;

function checkPassword(password: unknown): string {
  if (typeof password !== 'string') throw invalid('password', 'must be a string');
  if (password.length < MIN_PASSWORD)
    throw invalid('password', `must be at least ${MIN_PASSWORD} characters`);
  if (password.length > MAX_PASSWORD) throw invalid('password', `must be at most ${MAX_PASSWORD} characters`);
  return password;
}

type KeyRow = {
  id: string;
  name: string;
  scope: string;
  key_prefix: string;
  created_at: Date;
  created_by: string | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
};

function toKey(r: KeyRow): ApiKeyInfo {
  return {
    id: r.id,
    name: r.name,
    scope: r.scope as ApiKeyScope,
    prefix: r.key_prefix,
    createdAt: r.created_at,
    createdBy: r.created_by,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  };
}

type UserRow = {
  id: string;
  username: string;
  created_at: Date;
  password_changed_at: Date;
  disabled_at: Date | null;
};

function toUser(r: UserRow): AdminUser {
  return {
    id: r.id,
    username: r.username,
    createdAt: r.created_at,
    passwordChangedAt: r.password_changed_at,
    disabledAt: r.disabled_at,
  };
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const KEY_COLUMNS = [
  'id',
  'name',
  'scope',
  'key_prefix',
  'created_at',
  'created_by',
  'last_used_at',
  'revoked_at',
] as const;
const USER_COLUMNS = ['id', 'username', 'created_at', 'password_changed_at', 'disabled_at'] as const;

export function createAuthService(deps: AuthServiceDeps): AuthService {
  const { db, clock } = deps;
  const sessionTtlMs = deps.sessionTtlMs ?? 12 * 3_600_000;
  const keyCacheMs = deps.keyCacheMs ?? 5_000;
  // hash → key and when it was read; keeps ingestion at one DB round trip per batch, not per request.
  const keyCache = new Map<string, { key: ApiKeyInfo | null; at: number }>();
  const lastUsedWritten = new Map<string, number>();
  // Verifying against a fixed hash when the user does not exist keeps the response time the same.
  let dummyHash: Promise<string> | null = null;

  async function findUser(idOrUsername: string): Promise<UserRow & { password_hash: string }> {
    if (typeof idOrUsername !== 'string' || idOrUsername === '')
      throw invalid('user', 'must be an id or username');
    const row = await db
      .selectFrom('admin_users')
      .select([...USER_COLUMNS, 'password_hash'])
      .where(UUID_RE.test(idOrUsername) ? 'id' : 'username', '=', idOrUsername)
      .executeTakeFirst();
    if (!row) throw new TrailguardError('NOT_FOUND', `no admin user '${idOrUsername}'`, { field: 'user' });
    return row;
  }

  return {
    apiKeys: {
      async create(input) {
        const name = typeof input.name === 'string' ? input.name.trim() : '';
        if (name === '' || name.length > 128) throw invalid('name', 'must be 1–128 characters');
        if (!(API_KEY_SCOPES as readonly string[]).includes(input.scope))
          throw invalid('scope', `must be one of: ${API_KEY_SCOPES.join(', ')}`);
        const secret = newSecret(`tg_${input.scope}_`);
        const row = await db
          .insertInto('api_keys')
          .values({
            id: newId(),
            name,
            scope: input.scope,
            key_hash: sha256(secret),
            key_prefix: secret.slice(0, secret.lastIndexOf('_') + 7),
            created_at: clock.now(),
            created_by: input.createdBy ?? null,
          })
          .returning(KEY_COLUMNS)
          .executeTakeFirstOrThrow();
        return { key: toKey(row), secret };
      },
      async list() {
        const rows = await db
          .selectFrom('api_keys')
          .select(KEY_COLUMNS)
          .orderBy('created_at', 'desc')
          .execute();
        return rows.map(toKey);
      },
      async revoke(id) {
        if (typeof id !== 'string' || !UUID_RE.test(id)) throw invalid('id', 'must be an API key id');
        const row = await db
          .updateTable('api_keys')
          .set((eb) => ({ revoked_at: eb.fn.coalesce('revoked_at', eb.val(clock.now())) }))
          .where('id', '=', id)
          .returning(KEY_COLUMNS)
          .executeTakeFirst();
        if (!row) throw new TrailguardError('NOT_FOUND', `no API key ${id}`, { field: 'id' });
        keyCache.clear();
        return toKey(row);
      },
      async authenticate(secret) {
        if (!secret.startsWith('tg_') || secret.length > 128) return null;
        const hash = sha256(secret);
        const nowMs = clock.now().getTime();
        const cached = keyCache.get(hash);
        let key: ApiKeyInfo | null;
        if (cached && nowMs - cached.at < keyCacheMs && nowMs >= cached.at) key = cached.key;
        else {
          const row = await db
            .selectFrom('api_keys')
            .select(KEY_COLUMNS)
            .where('key_hash', '=', hash)
            .executeTakeFirst();
          key = row && row.revoked_at === null ? toKey(row) : null;
          if (keyCache.size > 10_000) keyCache.clear();
          keyCache.set(hash, { key, at: nowMs });
        }
        if (key) {
          // last_used_at is kept to the minute: one write per key per minute, not per request.
          const written = lastUsedWritten.get(key.id) ?? 0;
          if (nowMs - written >= 60_000) {
            lastUsedWritten.set(key.id, nowMs);
            void db
              .updateTable('api_keys')
              .set({ last_used_at: new Date(nowMs) })
              .where('id', '=', key.id)
              .execute()
              .catch(() => undefined);
          }
        }
        return key;
      },
    },

    users: {
      async create(input) {
        const username = typeof input.username === 'string' ? input.username.trim() : '';
        if (!USERNAME_RE.test(username))
          throw invalid('username', 'must be 1–64 letters, digits or . _ @ + -');
        const generated = input.password === undefined ? generatePassword() : null;
        const password = generated ?? checkPassword(input.password);
        const now = clock.now();
        const row = await db
          .insertInto('admin_users')
          .values({
            id: newId(),
            username,
            password_hash: await hashPassword(password),
            created_at: now,
            password_changed_at: now,
          })
          .onConflict((oc) => oc.column('username').doNothing())
          .returning(USER_COLUMNS)
          .executeTakeFirst();
        if (!row)
          throw new TrailguardError('USERNAME_TAKEN', `admin user '${username}' already exists`, {
            field: 'username',
          });
        return { user: toUser(row), password: generated };
      },
      async list() {
        const rows = await db.selectFrom('admin_users').select(USER_COLUMNS).orderBy('username').execute();
        return rows.map(toUser);
      },
      async count() {
        const r = await db
          .selectFrom('admin_users')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('disabled_at', 'is', null)
          .executeTakeFirstOrThrow();
        return Number(r.n);
      },
      async disable(idOrUsername) {
        const user = await findUser(idOrUsername);
        return db.transaction().execute(async (trx) => {
          const active = await trx
            .selectFrom('admin_users')
            .select('id')
            .where('disabled_at', 'is', null)
            .forUpdate()
            .execute();
          if (user.disabled_at === null && active.length <= 1)
            throw new TrailguardError('LAST_ADMIN', 'the last active admin user cannot be removed', {
              field: 'user',
            });
          const row = await trx
            .updateTable('admin_users')
            .set((eb) => ({ disabled_at: eb.fn.coalesce('disabled_at', eb.val(clock.now())) }))
            .where('id', '=', user.id)
            .returning(USER_COLUMNS)
            .executeTakeFirstOrThrow();
          await trx.deleteFrom('admin_sessions').where('user_id', '=', user.id).execute();
          return toUser(row);
        });
      },
      async setPassword(idOrUsername, password) {
        const user = await findUser(idOrUsername);
        const hash = await hashPassword(checkPassword(password));
        const row = await db
          .updateTable('admin_users')
          .set({ password_hash: hash, password_changed_at: clock.now() })
          .where('id', '=', user.id)
          .returning(USER_COLUMNS)
          .executeTakeFirstOrThrow();
        await db.deleteFrom('admin_sessions').where('user_id', '=', user.id).execute();
        return toUser(row);
      },
      async verify(username, password) {
        if (typeof username !== 'string' || typeof password !== 'string' || password.length > MAX_PASSWORD)
          return null;
        const row = await db
          .selectFrom('admin_users')
          .select([...USER_COLUMNS, 'password_hash'])
          .where('username', '=', username.trim())
          .executeTakeFirst();
        if (!row || row.disabled_at !== null) {
          dummyHash ??= hashPassword(generatePassword());
          await verifyPassword(password, await dummyHash);
          return null;
        }
        return (await verifyPassword(password, row.password_hash)) ? toUser(row) : null;
      },
    },

    sessions: {
      async create(userId) {
        const sessionKey = newSecret('tgs_');
        const now = clock.now();
        const expiresAt = new Date(now.getTime() + sessionTtlMs);
        await db
          .insertInto('admin_sessions')
          .values({
            id_hash: sha256(sessionKey),
            user_id: userId,
            created_at: now,
            expires_at: expiresAt,
            last_seen_at: now,
          })
          .execute();
        // Expired sessions are removed as new ones start; no scheduler needed.
        await db.deleteFrom('admin_sessions').where('expires_at', '<', now).execute();
        return { sessionKey, csrfToken: csrfTokenFor(sessionKey), expiresAt };
      },
      async authenticate(sessionKey) {
        if (!sessionKey.startsWith('tgs_') || sessionKey.length > 128) return null;
        const row = await db
          .selectFrom('admin_sessions as s')
          .innerJoin('admin_users as u', 'u.id', 's.user_id')
          .select([
            'u.id',
            'u.username',
            'u.created_at',
            'u.password_changed_at',
            'u.disabled_at',
            's.expires_at',
          ])
          .where('s.id_hash', '=', sha256(sessionKey))
          .executeTakeFirst();
        if (!row || row.disabled_at !== null || row.expires_at.getTime() <= clock.now().getTime())
          return null;
        return { user: toUser(row), expiresAt: row.expires_at };
      },
      async destroy(sessionKey) {
        await db.deleteFrom('admin_sessions').where('id_hash', '=', sha256(sessionKey)).execute();
      },
    },

    viewerTokens: {
      async issue(input) {
        const userId = normalizeUserId(input.userId);
        const ttl = input.ttlSeconds ?? 900;
        if (!Number.isInteger(ttl) || ttl < 60 || ttl > 3600)
          throw invalid('ttlSeconds', 'must be a whole number from 60 to 3600');
        const token = newSecret('tgv_');
        const now = clock.now();
        const expiresAt = new Date(now.getTime() + ttl * 1000);
        await db
          .insertInto('viewer_tokens')
          .values({
            token_hash: sha256(token),
            user_id: userId,
            issued_by: input.issuedBy,
            created_at: now,
            expires_at: expiresAt,
          })
          .execute();
        await db.deleteFrom('viewer_tokens').where('expires_at', '<', now).execute();
        return { token, userId, expiresAt };
      },
      async authenticate(token) {
        if (!token.startsWith('tgv_') || token.length > 128) return null;
        const row = await db
          .selectFrom('viewer_tokens')
          .select(['user_id', 'expires_at'])
          .where('token_hash', '=', sha256(token))
          .executeTakeFirst();
        if (!row || row.expires_at.getTime() <= clock.now().getTime()) return null;
        return { userId: row.user_id, expiresAt: row.expires_at };
      },
    },
  };
}
