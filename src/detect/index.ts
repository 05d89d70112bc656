/**
 * `trailguard/detect`: the attack detector on its own, for services that want only detection.
 * @example
 * import { createDetector } from 'trailguard/detect';
 * const detector = createDetector({ redisUrl: process.env.REDIS_URL });
 * const { suspicious, signals } = await detector.recordFailure({ ip: req.ip, username });
 * @module
 */
export { createDetector, normalizeAccount } from './detector.ts';
export type { Detector, DetectorOptions, DetectorLogger, DetectionCheck, FailureInput } from './detector.ts';
export { createMemoryWindowStore } from './memory-window-store.ts';
export { createRedisWindowStore, detectionRedisOptions } from './redis-window-store.ts';
export type { WindowStore, KeyOp, WindowSpec, WindowOutcome } from './window.ts';
export { DEFAULT_PATTERNS, DETECTION_PATTERNS } from '../domain/security-event.ts';
export type {
  Signal,
  DetectionCounts,
  DetectionResult,
  DetectionPattern,
  WindowPattern,
} from '../domain/security-event.ts';
