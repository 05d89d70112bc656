/**
 * HTTP request and response schemas. Request bodies reuse the library's input schemas from
 * `src/domain`, with hard caps on string sizes so an oversized field is a 400, not a silent cut.
 * @module
 */
import { DEVICE_TYPES, LOGIN_TYPES, RecordLoginFields } from '../domain/login.ts';
import { StringEnum, Type } from '../domain/validation.ts';
import type { Static, TSchema } from '../domain/validation.ts';

/** `{ error: { code, message, field? } }`. */
export const ErrorSchema = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable error code (see docs/server.md).' }),
      message: Type.String(),
      field: Type.Optional(Type.String({ description: 'The offending input field, dotted.' })),
    }),
  },
  { description: 'Error' },
);

/** Standard error responses for a route, by status. */
export function errorResponses(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorSchema]));
}

const Nullable = <T extends TSchema>(s: T) => Type.Union([s, Type.Null()]);
const DateTime = Type.String({ format: 'date-time' });
const When = Type.Union([Type.String({ maxLength: 64 }), Type.Integer()], {
  description: 'ISO-8601 date-time or epoch milliseconds.',
});

/** One login to ingest: the library's JSON fields plus `occurredAt`. */
export const IngestLogin = Type.Object(
  {
    ...RecordLoginFields.properties,
    username: Type.String({
      minLength: 1,
      maxLength: 1024,
      description: 'What the user typed; stored cut to 256.',
    }),
    failureReason: Type.Optional(Type.String({ maxLength: 2048 })),
    ip: Type.Optional(Type.String({ maxLength: 64, description: "The end user's IP address." })),
    userAgent: Type.Optional(Type.String({ maxLength: 4096, description: "The end user's User-Agent." })),
    sessionKey: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    occurredAt: Type.Optional(When),
  },
  { additionalProperties: false },
);
export type IngestLogin = Static<typeof IngestLogin>;

/** Largest batch accepted by `POST /logins`. */
export const MAX_BATCH = 1000;

export const IngestLoginsBody = Type.Union(
  [IngestLogin, Type.Array(IngestLogin, { minItems: 1, maxItems: MAX_BATCH })],
  { description: `One login, or an array of up to ${MAX_BATCH}.` },
);

export const IngestLogoutBody = Type.Object(
  {
    userId: Type.Union([Type.String({ minLength: 1, maxLength: 256 }), Type.Integer()]),
    sessionKey: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    occurredAt: Type.Optional(When),
  },
  { additionalProperties: false },
);

/** A stored login record. */
export const LoginRecordSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  userId: Nullable(Type.String()),
  username: Type.String(),
  loginType: StringEnum(LOGIN_TYPES),
  success: Type.Boolean(),
  failureReason: Nullable(Type.String()),
  ipAddress: Nullable(Type.String()),
  userAgent: Nullable(Type.String()),
  browser: Nullable(Type.String()),
  browserVersion: Nullable(Type.String()),
  os: Nullable(Type.String()),
  deviceType: StringEnum(DEVICE_TYPES),
  country: Nullable(Type.String()),
  city: Nullable(Type.String()),
  loginAt: DateTime,
  logoutAt: Nullable(DateTime),
  sessionDurationSeconds: Nullable(Type.Number()),
  metadata: Type.Record(Type.String(), Type.Unknown()),
});

export const LoginPage = Type.Object({
  items: Type.Array(LoginRecordSchema),
  nextCursor: Nullable(Type.String()),
  /** Set when a `search` ran out of its time budget: older rows were not searched yet (follow nextCursor). */
  searchedBack: Type.Optional(DateTime),
});

/** What an end user sees of their own logins (the seed's `my-logins`). */
export const MyLogin = Type.Object({
  loginAt: DateTime,
  logoutAt: Nullable(DateTime),
  success: Type.Boolean(),
  loginType: StringEnum(LOGIN_TYPES),
  ipAddress: Nullable(Type.String()),
  deviceType: StringEnum(DEVICE_TYPES),
  browser: Nullable(Type.String()),
  os: Nullable(Type.String()),
  country: Nullable(Type.String()),
  city: Nullable(Type.String()),
  sessionDurationSeconds: Nullable(Type.Number()),
});

const Limit = (max: number) => Type.Integer({ minimum: 1, maximum: max });

export const ListLoginsQuerySchema = Type.Object(
  {
    userId: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    ip: Type.Optional(Type.String({ maxLength: 64, description: 'An address or CIDR block.' })),
    success: Type.Optional(Type.Boolean()),
    loginType: Type.Optional(StringEnum(LOGIN_TYPES)),
    deviceType: Type.Optional(StringEnum(DEVICE_TYPES)),
    country: Type.Optional(Type.String({ minLength: 2, maxLength: 2 })),
    search: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 256,
        description: 'Case-insensitive substring of the username or the user agent.',
      }),
    ),
    from: Type.Optional(Type.String({ maxLength: 64 })),
    to: Type.Optional(Type.String({ maxLength: 64 })),
    limit: Type.Optional(Limit(1000)),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);
export type ListLoginsQuerySchema = Static<typeof ListLoginsQuerySchema>;

export const FailedLoginsQuerySchema = Type.Object(
  {
    hours: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 24 * 366, default: 24 })),
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    ip: Type.Optional(Type.String({ maxLength: 64 })),
    limit: Type.Optional(Limit(10_000)),
  },
  { additionalProperties: false },
);
export type FailedLoginsQuerySchema = Static<typeof FailedLoginsQuerySchema>;

export const CalendarQuerySchema = Type.Object(
  {
    year: Type.Optional(Type.Integer({ minimum: 1970, maximum: 9999 })),
    month: Type.Optional(Type.Integer({ minimum: 1, maximum: 12 })),
  },
  { additionalProperties: false },
);
export type CalendarQuerySchema = Static<typeof CalendarQuerySchema>;

export const CalendarSchema = Type.Object({
  unit: StringEnum(['year', 'month', 'day'] as const),
  items: Type.Array(
    Type.Object({
      period: DateTime,
      count: Nullable(Type.Integer({ description: 'Attempts that day; null for years and months.' })),
    }),
  ),
});

export const IdParams = Type.Object(
  { id: Type.String({ format: 'uuid', maxLength: 36 }) },
  { additionalProperties: false },
);

export { Type, Nullable, DateTime };
