/**
 * The change log's part of tamper evidence: the append-only history rows (every transition and edit).
 * @module
 */
import type { SealedStream } from '../integrity/contract.ts';

/**
 * The sealed columns of change_log_history, in encoding order. Never change the list: seals made with it could no
 * longer be verified. A new column that must be covered needs a new stream version.
 */
export const CHANGE_HISTORY_STREAM: SealedStream = {
  name: 'change_log_history',
  columns: [
    ['id', 'text'],
    ['seq', 'text'],
    ['change_id', 'text'],
    ['at', 'timestamptz'],
    ['actor_id', 'text'],
    ['actor_name', 'text'],
    ['action', 'text'],
    ['field', 'text'],
    ['old_value', 'text'],
    ['new_value', 'text'],
    ['note', 'text'],
  ],
};
