/**
 * Archive files: gzip-compressed JSON lines, one file per table and month per run, written to a
 * temporary name, fsynced and renamed into place, with the SHA-256 of the file as stored on disk (so
 * `sha256sum file` verifies it).
 * @module
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

/** What an archive file holds, as written into the retention receipt. */
export interface ArchiveFile {
  /** Absolute path of the `.jsonl.gz` file. */
  file: string;
  /** SHA-256 of the compressed file, hex. */
  sha256: string;
  rows: number;
  bytes: number;
}

export interface ArchiveWriter {
  /** Appends rows (one JSON object per line); waits when the disk is slower than the database. */
  write(rows: readonly unknown[]): Promise<void>;
  /** Flushes, fsyncs and moves the file into place. */
  finish(): Promise<ArchiveFile>;
  /** Removes the partial file. */
  abort(): Promise<void>;
}

/** `login_history-2025-06-20260315T031700123Z.jsonl.gz` */
export function archiveFileName(table: string, period: string, runAt: Date): string {
  const stamp = runAt.toISOString().replace(/[-:.]/g, '');
  return `${table}-${period}-${stamp}.jsonl.gz`;
}

export async function createArchiveWriter(dir: string, fileName: string): Promise<ArchiveWriter> {
  await mkdir(dir, { recursive: true });
  const finalPath = join(dir, fileName);
  const tempPath = `${finalPath}.partial`;
  const hash = createHash('sha256');
  let bytes = 0;
  let rows = 0;
  const gzip = createGzip();
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  // 'wx': an archive is never overwritten.
  const out = createWriteStream(tempPath, { flags: 'wx' });
  // The file is opened in the background; it is only gone for good once the stream has closed it (an
  // unlink before the open completes would leave the file the open then creates).
  const closed = new Promise<void>((resolve) => out.once('close', () => resolve()));
  const done = pipeline(gzip, tap, out);
  done.catch(() => undefined);

  return {
    async write(batch) {
      for (const row of batch) {
        rows++;
        if (!gzip.write(`${JSON.stringify(row)}\n`)) {
          await new Promise<void>((resolve, reject) => {
            const onDrain = () => {
              gzip.off('error', onError);
              resolve();
            };
            const onError = (err: Error) => {
              gzip.off('drain', onDrain);
              reject(err);
            };
            gzip.once('drain', onDrain);
            gzip.once('error', onError);
          });
        }
      }
    },
    async finish() {
      gzip.end();
      await done;
      const fh = await open(tempPath, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tempPath, finalPath);
      return { file: finalPath, sha256: hash.digest('hex'), rows, bytes };
    },
    async abort() {
      gzip.destroy();
      await done.catch(() => undefined);
      await closed;
      await unlink(tempPath).catch(() => undefined);
    },
  };
}
