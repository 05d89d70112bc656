import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createArchiveWriter } from './archive.ts';

describe('archive files', () => {
  it('leaves no file behind when aborted, even before the file has finished opening', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-archive-'));
    try {
      // A retention run aborts an archive that got no rows right after opening it. Many at once keep
      // the file-system threads busy, so some opens are still in flight when their abort unlinks.
      await Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          const writer = await createArchiveWriter(dir, `login_history-empty-${i}.jsonl.gz`);
          await writer.abort();
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(readdirSync(dir), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
