/**
 * Secret redaction for caller-supplied JSON (security-event context, login metadata) and URLs.
 * @module
 */

/**
 * Words that make a key a secret when they are one of its words (`passwordConfirmation`,
 * `password_confirm`, `X-Api-Key`, `jwt`, `pin`). Matching on words rather than substrings keeps
 * harmless keys such as `footprint` (which contains "otp") or `spinCount` in clear.
 */
const SECRET_WORDS = new Set([
  'password',
  'passwd',
  'passphrase',
  'passcode',
  'pass',
  'pwd',
  'token',
  'tokens',
  'secret',
  'secrets',
  'authorization',
  'cookie',
  'cookies',
  'otp',
  'totp',
  'hotp',
  'credential',
  'credentials',
  'jwt',
  'bearer',
  'pin',
  'csrf',
  'xsrf',
  'signature',
  // Two-word secrets, also written as one word (`apikey`, `sessionid`).
  'apikey',
  'privatekey',
  'accesskey',
  'sessionkey',
  'sessionid',
  'setcookie',
]);

/** Endings that make one lower-case word a secret (`dbpassword`, `accesstoken`, `clientsecret`). */
const SECRET_SUFFIX = /(password|passwd|passphrase|token|secret)$/;

/** Splits a key into lower-case words at separators and camelCase boundaries (`APIKey` → api, key). */
export function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** Whether a JSON key names a secret: one of its words, or two adjacent words, is a secret word. */
export function isSecretKey(key: string): boolean {
  const words = keyWords(key);
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    if (SECRET_WORDS.has(w) || SECRET_SUFFIX.test(w)) return true;
    const next = words[i + 1];
    if (next !== undefined && SECRET_WORDS.has(w + next)) return true;
  }
  return false;
}

/** The value that replaces a secret. */
export const REDACTED = '[REDACTED]';

/** Replaces the values of keys that look like secrets, at any depth. */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = isSecretKey(k) ? REDACTED : redactSecrets(v);
    return out;
  }
  return value;
}
