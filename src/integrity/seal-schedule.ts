/**
 * Automatic sealing: `seal()` every interval, on an unref'd timer (it never keeps a process alive).
 * A run still going when the next is due is not doubled; `stop()` waits for it, so the database is
 * not closed under a seal.
 * @module
 */
import type { Logger } from '../domain/logger.ts';
import type { IntegrityService } from './integrity-service.ts';

/** A running seal schedule. */
export interface SealSchedule {
  /** Stops the timer and waits for a run in progress. Safe to call twice. */
  stop(): Promise<void>;
}

/** Seals every `intervalSeconds`; failures are logged and retried at the next tick. */
export function startSealSchedule(
  integrity: Pick<IntegrityService, 'seal'>,
  intervalSeconds: number,
  logger: Logger,
): SealSchedule {
  let running: Promise<void> | null = null;
  let stopped = false;
  const tick = () => {
    if (running || stopped) return;
    running = integrity
      .seal()
      .then(
        () => undefined,
        (err: unknown) => logger.error({ err }, 'scheduled integrity seal failed'),
      )
      .finally(() => {
        running = null;
      });
  };
  const timer = setInterval(tick, intervalSeconds * 1000);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
