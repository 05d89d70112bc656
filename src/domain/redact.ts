/**
 * Secret redaction for whatever a caller hands Trailguard to store or log: JSON (login metadata,
 * security-event context, change metadata, alert details) and free text (change descriptions and
 * notes, failure reasons). One rule: a value under a secret-looking name is replaced, and secrets with
 * a recognisable shape inside any string are replaced (see redact-text.ts). docs/security.md lists what
 * it catches and what it cannot.
 * @module
 */
import { REDACTED, redactText } from './redact-text.ts';
import { isSecretKey } from './secret-keys.ts';

export { REDACTED, redactText, redactUrl } from './redact-text.ts';
export { isSecretKey, isSecretParam, keyWords } from './secret-keys.ts';

/**
 * Replaces secrets at any depth: the whole value of a secret-looking key (an object under `session`
 * or `credentials` included), and secrets inside strings. Booleans and nulls stay: `mfa: true` or
 * `password: null` says nothing secret.
 */
export function redactSecrets(value: unknown): unknown {
  if (typeof value === 'string') return redactText(value);
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      out[k] = v !== null && typeof v !== 'boolean' && isSecretKey(k) ? REDACTED : redactSecrets(v);
    return out;
  }
  return value;
}
