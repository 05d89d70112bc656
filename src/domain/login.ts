/**
 * Login history: the record, its enums and the input schemas (shared by the library and the HTTP API).
 * @module
 */
import { StringEnum, Type } from './validation.ts';
import type { Static } from './validation.ts';

/** How the user authenticated. */
export const LOGIN_TYPES = ['password', 'magic_link', 'api_key', 'jwt', 'sso', 'oauth', 'passkey'] as const;
export type LoginType = (typeof LOGIN_TYPES)[number];

/** Device class derived from the user agent. */
export const DEVICE_TYPES = ['desktop', 'mobile', 'tablet', 'bot', 'unknown'] as const;
export type DeviceType = (typeof DEVICE_TYPES)[number];

/** Length limits applied before storage. Longer attacker-controlled values are cut, not rejected. */
export const LIMITS = {
  username: 256,
  userId: 256,
  failureReason: 512,
  userAgent: 512,
  referrer: 1024,
  acceptLanguage: 256,
  /** Serialized size of the caller's metadata object. */
  metadataBytes: 16 * 1024,
} as const;

/** One row of login history. */
export interface LoginRecord {
  id: string;
  userId: string | null;
  username: string;
  loginType: LoginType;
  success: boolean;
  failureReason: string | null;
  ipAddress: string | null;
  userAgent: string | null;
  browser: string | null;
  browserVersion: string | null;
  os: string | null;
  deviceType: DeviceType;
  country: string | null;
  city: string | null;
  loginAt: Date;
  logoutAt: Date | null;
  sessionDurationSeconds: number | null;
  metadata: Record<string, unknown>;
}

/**
 * The JSON-representable part of `logins.record()` input. The library adds `request`, `headers` and a
 * `Date` for `occurredAt`; the HTTP ingestion API takes exactly this.
 */
export const RecordLoginFields = Type.Object(
  {
    username: Type.String({
      minLength: 1,
      description: 'The identifier the user typed (email or username).',
    }),
    userId: Type.Optional(
      Type.Union([Type.String({ minLength: 1, maxLength: LIMITS.userId }), Type.Integer()], {
        description: "The application's id for the user; omit for unknown usernames.",
      }),
    ),
    success: Type.Boolean(),
    loginType: Type.Optional(StringEnum(LOGIN_TYPES)),
    failureReason: Type.Optional(Type.String()),
    ip: Type.Optional(Type.String({ description: 'Client IP address, when no request object is given.' })),
    userAgent: Type.Optional(Type.String()),
    sessionKey: Type.Optional(
      Type.String({ minLength: 1, description: 'Session identifier; stored only as its SHA-256.' }),
    ),
    metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);
export type RecordLoginFields = Static<typeof RecordLoginFields>;

/** Minimal shape of a Node request that Trailguard reads (IncomingMessage, Express req, Fastify raw). */
export interface RequestLike {
  headers: Record<string, string | string[] | undefined>;
  socket?: { remoteAddress?: string | undefined } | null | undefined;
  connection?: { remoteAddress?: string | undefined } | null | undefined;
}

/** Input to `logins.record()`. */
export interface RecordLoginInput {
  /** What the user typed as their identifier. Required, non-empty; cut to 256 characters. */
  username: string;
  /** The application's user id; omit for unknown usernames. Numbers are stored as strings. */
  userId?: string | number | null | undefined;
  /** Whether authentication succeeded. */
  success: boolean;
  /** @default 'password' */
  loginType?: LoginType | undefined;
  /** Why a failed attempt failed (`invalid_password`, `unknown_user`, `locked` …). */
  failureReason?: string | null | undefined;
  /** The incoming request; client IP, user agent, referrer and language are read from it. */
  request?: RequestLike | undefined;
  /** Client IP when no request is given (or to override it). */
  ip?: string | null | undefined;
  /** User agent when no request is given (or to override it). */
  userAgent?: string | null | undefined;
  /** Request headers when no request object is given (user agent, referrer, accept-language). */
  headers?: Record<string, string | string[] | undefined> | undefined;
  /** The session identifier; stored only as its SHA-256 hash, used to match the logout. */
  sessionKey?: string | null | undefined;
  /** When it happened: from 1970-01-01 to 24 hours after now (EARLIEST_EVENT_TIME, MAX_EVENT_SKEW_MS). @default now */
  occurredAt?: Date | string | number | undefined;
  /** Any JSON object; at most 16 KiB serialized. */
  metadata?: Record<string, unknown> | undefined;
}

/** Input to `logins.recordLogout()`. */
export interface RecordLogoutInput {
  userId: string | number;
  /** The session being closed; without it, the user's latest open successful login is closed. */
  sessionKey?: string | null | undefined;
  /** When the session ended: from 1970-01-01 to 24 hours after now. @default now */
  occurredAt?: Date | string | number | undefined;
}

/** Filters for `logins.list()`. */
export interface ListLoginsQuery {
  userId?: string | number | undefined;
  username?: string | undefined;
  /** An address or a CIDR block (`10.0.0.0/8`). */
  ip?: string | undefined;
  success?: boolean | undefined;
  loginType?: LoginType | undefined;
  deviceType?: DeviceType | undefined;
  /** ISO 3166-1 alpha-2 code. */
  country?: string | undefined;
  /**
   * Case-insensitive substring of the username or the user agent (1–256 characters). No index serves a
   * substring, so a search scans back in time within a time budget: a page may hold fewer than `limit`
   * items and say in `searchedBack` how far back it looked; its `nextCursor` searches on from there.
   */
  search?: string | undefined;
  /** Inclusive lower bound on `loginAt`. */
  from?: Date | string | number | undefined;
  /** Exclusive upper bound on `loginAt`. */
  to?: Date | string | number | undefined;
  /** Page size. @default 50 (max 1000) */
  limit?: number | undefined;
  /** `nextCursor` from the previous page. */
  cursor?: string | null | undefined;
}

/** Filters for `logins.failed()`. */
export interface FailedLoginsQuery {
  username?: string | undefined;
  /** An address or a CIDR block. */
  ip?: string | undefined;
  /** Look-back window in hours. */
  hours: number;
  /** @default 1000 (max 10000) */
  limit?: number | undefined;
}

/** A page of results. */
export interface Page<T> {
  items: T[];
  /** Pass as `cursor` to get the next page; null on the last page. */
  nextCursor: string | null;
  /**
   * Set when a search ran out of its time budget before filling the page: rows older than this were
   * not searched yet (follow `nextCursor` to go on).
   */
  searchedBack?: Date | undefined;
}
