/**
 * Record ids: UUIDv7 (time-ordered, so index insertions land at the right edge of the b-tree).
 * @module
 */
import { randomFillSync } from 'node:crypto';
import { V7Generator } from 'uuidv7';

// uuidv7's default source refills 32 bytes at a time, one system call every few ids; on the write
// path (two ids per recorded login) that was 2 % of the process's CPU. 4 KiB per refill instead.
const pool = new Uint32Array(1024);
let cursor = pool.length;
const generator = new V7Generator({
  nextUint32(): number {
    if (cursor >= pool.length) {
      randomFillSync(pool);
      cursor = 0;
    }
    return pool[cursor++] as number;
  },
});

/** A new UUIDv7, lower-case hex with dashes. */
export function newId(): string {
  return generator.generate().toString();
}
