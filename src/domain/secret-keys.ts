/**
 * Which names name a secret: JSON keys, URL query parameters, `NAME=value` pairs and header names all
 * go through the same rule, so a name is redacted in metadata exactly when it is redacted in text.
 * @module
 */

/**
 * Words that make a name a secret wherever they stand in it (`passwordConfirmation`, `new_pw`,
 * `X-Api-Key`, `connect.sid`). Matching whole words rather than substrings keeps harmless names such
 * as `footprint` (which contains "otp"), `passport` or `author` in clear.
 */
const SECRET_WORDS = new Set([
  'password',
  'passwd',
  'passphrase',
  'passcode',
  'pass',
  'pwd',
  'pw',
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
  // Session cookies: express-session's `connect.sid`, PHP's `PHPSESSID`, Java's `JSESSIONID`.
  'sid',
  'sessid',
  'phpsessid',
  'jsessionid',
  // Two-word secrets, also written as one word (`apikey`, `sessionid`).
  'apikey',
  'privatekey',
  'accesskey',
  'secretkey',
  'sessionkey',
  'sessionid',
  'setcookie',
  'authcode',
  'mfacode',
  'otpcode',
  'verificationcode',
  'recoverycode',
  'backupcode',
  'resetcode',
  'signingkey',
  'encryptionkey',
  'masterkey',
  'hmackey',
]);

/**
 * Words that name a secret only as the name's last word: `auth`, `basicAuth`, `x-auth`, `mfa`,
 * `laravel_session` hold the credential itself, while `authMethod`, `mfaEnabled` or `sessionStart`
 * describe it. (`author` and `authority` are other words and never match.)
 */
const LAST_WORDS = new Set(['auth', 'mfa', '2fa', 'session']);

/** Endings that make one lower-case word a secret (`dbpassword`, `accesstoken`, `phpsessid`). */
const SECRET_SUFFIX = /(?:password|passwd|passphrase|token|secret|sessid|sessionid)$/;

/**
 * Last words that make a name describe a secret rather than hold it: `tokenType: "Bearer"`,
 * `password_changed_at`, `tokens_used`, `secretName`, `sessionCount`.
 */
const DESCRIPTOR_WORDS = new Set([
  'type',
  'types',
  'kind',
  'method',
  'methods',
  'provider',
  'mode',
  'scheme',
  'algorithm',
  'alg',
  'length',
  'count',
  'used',
  'enabled',
  'required',
  'expires',
  'expiry',
  'expiration',
  'ttl',
  'at',
  'age',
  'status',
  'strength',
  'policy',
  'version',
  'changed',
  'rotated',
  'name',
  'present',
  'format',
]);

/** Words before `tokens` that make it a count of language-model tokens (`max_tokens`, `promptTokens`). */
const TOKEN_COUNTS = new Set([
  'max',
  'min',
  'num',
  'total',
  'prompt',
  'completion',
  'input',
  'output',
  'cached',
]);

/**
 * Extra names that are secrets as URL query parameters, where they carry OAuth codes, API keys
 * (`?key=AIza…`), signed-URL signatures and single-sign-on tickets, but are too common as JSON keys
 * (`key`, `code`) to redact there.
 */
const PARAM_WORDS = new Set(['key', 'code', 'sig', 'hmac', 'ticket']);

/** Splits a name into lower-case words at separators and camelCase boundaries (`APIKey` → api, key). */
export function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/**
 * Answers for names already judged. Metadata keys repeat from one login to the next, so each is split
 * into words once; the cache is emptied when full, so a caller sending ever new keys costs only the
 * split.
 */
const judged = new Map<string, boolean>();
const JUDGED_MAX = 2048;

/** Whether a name names a secret. */
export function isSecretKey(key: string): boolean {
  let secret = judged.get(key);
  if (secret === undefined) {
    secret = judgeKey(key);
    if (judged.size >= JUDGED_MAX) judged.clear();
    judged.set(key, secret);
  }
  return secret;
}

function judgeKey(key: string): boolean {
  // Browsers accept these cookie-name prefixes only on cookies set securely: session cookies.
  if (key.startsWith('__Host-') || key.startsWith('__Secure-')) return true;
  const words = keyWords(key);
  const n = words.length;
  if (n === 0) return false;
  const last = words[n - 1] as string;
  if (n > 1 && DESCRIPTOR_WORDS.has(last)) return false;
  for (let i = 0; i < n; i++) {
    const w = words[i] as string;
    if (w === 'tokens' && i > 0 && TOKEN_COUNTS.has(words[i - 1] as string)) continue;
    if (SECRET_WORDS.has(w) || SECRET_SUFFIX.test(w)) return true;
    const next = words[i + 1];
    if (next !== undefined && SECRET_WORDS.has(w + next)) return true;
  }
  return LAST_WORDS.has(last);
}

const judgedParams = new Map<string, boolean>();

/** Whether a URL query parameter's name names a secret: the key rule, plus `key`, `code`, `sig`… */
export function isSecretParam(name: string): boolean {
  let secret = judgedParams.get(name);
  if (secret === undefined) {
    const words = keyWords(name);
    const last = words[words.length - 1];
    secret = isSecretKey(name) || (last !== undefined && PARAM_WORDS.has(last));
    if (judgedParams.size >= JUDGED_MAX) judgedParams.clear();
    judgedParams.set(name, secret);
  }
  return secret;
}
