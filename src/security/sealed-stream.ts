/**
 * Security events' part of tamper evidence: every column of a stored event.
 * @module
 */
import type { SealedStream } from '../integrity/contract.ts';

/**
 * The sealed columns of security_event_rows, in encoding order. Never change the list: seals made with it could no
 * longer be verified. A new column that must be covered needs a new stream version.
 */
export const SECURITY_EVENT_STREAM: SealedStream = {
  name: 'security_event_rows',
  columns: [
    ['id', 'text'],
    ['event_type', 'text'],
    ['category', 'text'],
    ['severity', 'text'],
    ['occurred_at', 'timestamptz'],
    ['username', 'text'],
    ['user_id', 'text'],
    ['ip_address', 'text'],
    ['user_agent', 'text'],
    ['reason', 'text'],
    ['context', 'text'],
  ],
};
