/**
 * A lock file for the embedded data directory. PGlite is single-process: a second process opening the
 * same directory would corrupt it, so the second one gets a clear error instead.
 * @module
 */
import { openSync, writeSync, closeSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { TrailguardError } from '../domain/errors.ts';

export interface DirLock {
  release(): void;
}

const held = new Map<string, number>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes `<dir>/trailguard.lock`, replacing it when the process that wrote it is gone. */
export function acquireDirLock(dir: string): DirLock {
  const path = join(dir, 'trailguard.lock');
  if (held.has(path)) {
    throw new TrailguardError(
      'DATABASE_UNREACHABLE',
      `the embedded database at ${dir} is already open in this process; close the other Trailguard instance first`,
      { field: 'dataDir' },
    );
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      held.set(path, process.pid);
      return {
        release() {
          if (!held.delete(path)) return;
          try {
            unlinkSync(path);
          } catch {
            /* already gone */
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new TrailguardError(
          'DATABASE_UNREACHABLE',
          `the embedded database at ${dir} is in use by process ${pid}; stop it, or point both at PostgreSQL with DATABASE_URL`,
          { field: 'dataDir' },
        );
      }
      unlinkSync(path); // stale: its process is gone
    }
  }
  throw new TrailguardError('DATABASE_UNREACHABLE', `cannot lock the embedded database at ${dir}`, {
    field: 'dataDir',
  });
}
