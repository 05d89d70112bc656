/**
 * Unknown keys in query and option objects: a misspelt filter (`usrname`) must fail, not return
 * every row unfiltered.
 * @module
 */
import { invalid } from './errors.ts';

/**
 * Throws VALIDATION_FAILED naming the first key of `value` not in `known`. Keys whose value is
 * `undefined` are ignored, as the filters themselves ignore them (callers build `{ from: q.from }`).
 */
export function rejectUnknownKeys(value: Record<string, unknown>, known: readonly string[]): void {
  for (const key in value) {
    if (!Object.hasOwn(value, key) || value[key] === undefined) continue;
    if (!known.includes(key)) throw invalid(key, `is not a known field (known: ${known.join(', ')})`);
  }
}
