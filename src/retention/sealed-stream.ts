/**
 * Tamper evidence over compliance receipts (retention runs and erasures): proof of what was removed.
 * @module
 */
import type { SealedStream } from '../integrity/contract.ts';

/**
 * The sealed columns of compliance_receipt, in encoding order. Never change the list: seals made with it could no
 * longer be verified. A new column that must be covered needs a new stream version.
 */
export const COMPLIANCE_RECEIPT_STREAM: SealedStream = {
  name: 'compliance_receipt',
  columns: [
    ['id', 'text'],
    ['kind', 'text'],
    ['subject', 'text'],
    ['requested_by', 'text'],
    ['reason', 'text'],
    ['created_at', 'timestamptz'],
    ['body', 'text'],
  ],
};
