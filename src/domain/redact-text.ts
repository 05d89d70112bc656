/**
 * Secrets inside free text: a change description, a failure reason, a metadata value. Only secrets
 * with a recognisable shape can be found — a credential in a URL or connection string, a value after a
 * secret-looking name, a bearer token, a JWT, a private key block, a token with a vendor's prefix.
 * The text is edited in place (the secret replaced, everything else kept byte for byte), so a URL is
 * not re-serialised the way a URL parser would print it.
 * @module
 */
import { isSecretKey, isSecretParam } from './secret-keys.ts';

/** The value that replaces a secret. */
export const REDACTED = '[REDACTED]';

/** Text without which PREFIXED_TOKEN cannot match: most strings skip that scan. */
const TOKEN_PREFIX = /gh[pousr]_|github_pat_|glpat-|xox[a-z]-|k_live_|npm_|sk-|AKIA|AIza/;

/** Text without which BEARER cannot match. */
const BEARER_WORD = /bearer/i;

/** `scheme://…` anywhere in a string, up to white space or a quote. */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;

/** Schemes where a lone user name (`https://TOKEN@host`) is how a token is passed. */
const LONE_USERINFO_IS_SECRET = new Set(['http', 'https', 'ws', 'wss', 'ftp', 'ftps']);

/** The separators of `NAME=value` and `NAME: value` pairs. */
const SEPARATOR = /[=:]/g;

/** Characters of a pair's name (`DEPLOY_TOKEN`, `connect.sid`, `X-Api-Key`). */
const NAME_CHAR = /[\w.-]/;

/** Authorization schemes whose credential is the next word. */
const AUTH_SCHEME = /^(?:bearer|basic|digest|token|negotiate|ntlm|apikey)[ \t]+/i;

/** A bearer token without a name before it; 16 characters at least, so prose ("the bearer of…") is kept. */
const BEARER = /\b(bearer[ \t]+)[A-Za-z0-9._~+/-]{16,}=*/gi;

/** A JWT: base64url JSON header and payload (both start with `{"` → `eyJ`) and a signature. */
const JWT = /\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;

/** A PEM private key block (or the rest of the text, when it is cut before the END line). */
const PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;

/**
 * Tokens whose vendor prefix says what they are: GitHub, GitLab, Slack, Stripe, npm, OpenAI-style
 * `sk-…`, AWS access key ids and Google API keys. Their length floors keep words like "sk-learn" clear.
 */
const PREFIXED_TOKEN =
  /\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|glpat-[A-Za-z0-9_-]{20,}|xox[abposr]-[A-Za-z0-9-]{10,}|[sr]k_live_[A-Za-z0-9]{16,}|npm_[A-Za-z0-9]{30,}|sk-[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35})/g;

/**
 * Replaces the secrets found in `text` with `[REDACTED]`:
 * - in URLs: the password of `user:password@` (and a lone `TOKEN@` on web schemes), and the values of
 *   query and fragment parameters whose names look secret (`token`, `code`, `key`, `sig`, …);
 * - the value after a secret-looking name in `NAME=value` / `NAME: value` pairs (environment
 *   variables, headers, key=value connection strings such as libpq's `password=…`);
 * - bearer tokens, JWTs, PEM private keys and vendor-prefixed tokens anywhere.
 */
export function redactText(text: string): string {
  // Each rule runs only when the text holds what it needs (this runs on the login path: most values,
  // a device name or a plan, skip every scan).
  if (text.length < 4) return text;
  let out = text;
  if (out.includes('-----BEGIN')) out = out.replace(PRIVATE_KEY, REDACTED);
  if (out.includes('://')) out = out.replace(URL_IN_TEXT, redactUrl);
  if (out.includes('=') || out.includes(':')) out = redactPairs(out);
  if (BEARER_WORD.test(out)) out = out.replace(BEARER, `$1${REDACTED}`);
  if (out.includes('eyJ')) out = out.replace(JWT, REDACTED);
  if (TOKEN_PREFIX.test(out)) out = out.replace(PREFIXED_TOKEN, REDACTED);
  return out;
}

/** One URL with its userinfo password and secret parameters replaced; the rest as written. */
export function redactUrl(url: string): string {
  const schemeEnd = url.indexOf('://');
  if (schemeEnd < 0) return url;
  const scheme = url.slice(0, schemeEnd).toLowerCase();
  const authorityStart = schemeEnd + 3;
  let authorityEnd = url.slice(authorityStart).search(/[/?#]/);
  authorityEnd = authorityEnd < 0 ? url.length : authorityStart + authorityEnd;
  let authority = url.slice(authorityStart, authorityEnd);
  // The last '@' ends the userinfo, as in the WHATWG URL parser (a password may hold an unescaped '@').
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(':');
    let masked = userinfo;
    if (colon >= 0)
      masked = colon === userinfo.length - 1 ? userinfo : `${userinfo.slice(0, colon + 1)}${REDACTED}`;
    else if (LONE_USERINFO_IS_SECRET.has(scheme) && userinfo !== '') masked = REDACTED;
    authority = masked + authority.slice(at);
  }
  let rest = url.slice(authorityEnd);
  if (rest.includes('=')) {
    const hash = rest.indexOf('#');
    const query = rest.indexOf('?');
    if (query >= 0 && (hash < 0 || query < hash)) {
      const end = hash < 0 ? rest.length : hash;
      rest = rest.slice(0, query + 1) + redactParams(rest.slice(query + 1, end)) + rest.slice(end);
    }
    const h = rest.indexOf('#');
    // OAuth's implicit flow returns `#access_token=…` in the fragment.
    if (h >= 0) rest = rest.slice(0, h + 1) + redactParams(rest.slice(h + 1));
  }
  return url.slice(0, authorityStart) + authority + rest;
}

/** `a=1&token=x;b=2` with the values of secret-looking names replaced. */
function redactParams(params: string): string {
  if (!params.includes('=')) return params;
  return params.replace(/([^&;=]+)=([^&;]*)/g, (pair, name: string, value: string) => {
    if (value === '' || value === REDACTED) return pair;
    let decoded = name;
    if (name.includes('%') || name.includes('+')) {
      try {
        decoded = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        // A malformed escape: judge the name as written.
      }
    }
    return isSecretParam(decoded) ? `${name}=${REDACTED}` : pair;
  });
}

/**
 * Masks the value after each secret-looking name in `NAME=value` and `NAME: value` pairs. It walks
 * from each separator back to the name before it (optionally quoted, with spaces or tabs between),
 * which keeps the scan linear in the text's length.
 */
function redactPairs(text: string): string {
  SEPARATOR.lastIndex = 0;
  let out = '';
  let copied = 0;
  for (let m = SEPARATOR.exec(text); m !== null; m = SEPARATOR.exec(text)) {
    const sep = m.index;
    const name = nameBefore(text, sep);
    if (name === null || !isSecretKey(name)) continue;
    let start = sep + 1;
    while (text[start] === ' ' || text[start] === '\t') start++;
    const [valueStart, valueEnd] = valueBounds(text, start);
    // Empty, or already replaced (the password of a URL whose user name looks secret: `token:…@`).
    if (valueEnd <= valueStart || text.startsWith(REDACTED, valueStart)) continue;
    out += text.slice(copied, valueStart) + REDACTED;
    copied = valueEnd;
    // The value may hold separators of its own (`password=a=b`): the scan goes on after it.
    SEPARATOR.lastIndex = valueEnd;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/**
 * The name that ends just before the separator at `sep`: letters, digits, `_`, `.` and `-`, starting
 * with a letter or `_`, at most 128 characters, quoted on both sides or on neither.
 */
function nameBefore(text: string, sep: number): string | null {
  let end = sep;
  while (end > 0 && (text[end - 1] === ' ' || text[end - 1] === '\t')) end--;
  const quote = text[end - 1];
  const quoted = quote === '"' || quote === "'";
  if (quoted) end--;
  let start = end;
  while (start > 0 && end - start < 128 && NAME_CHAR.test(text[start - 1] as string)) start--;
  while (start < end && !/[A-Za-z_]/.test(text[start] as string)) start++;
  if (start === end) return null;
  if (quoted && text[start - 1] !== quote) return null;
  return text.slice(start, end);
}

/**
 * Where the secret after a name starts and ends: inside quotes when quoted; after an authorization
 * scheme (`Bearer `) when there is one; otherwise up to white space or a delimiter of pairs
 * (`&`, `;`, `,`), so `password=x; user=y` keeps `user=y`.
 */
function valueBounds(text: string, start: number): [number, number] {
  const q = text[start];
  if (q === '"' || q === "'") {
    const close = text.indexOf(q, start + 1);
    return [start + 1, close < 0 ? text.length : close];
  }
  let from = start;
  const scheme = AUTH_SCHEME.exec(text.slice(start, start + 24));
  if (scheme) from += scheme[0].length;
  let end = from;
  while (end < text.length && !/[\s"'&;,<>]/.test(text[end] as string)) end++;
  return [from, end];
}
