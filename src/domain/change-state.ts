/**
 * The approval state machine of a change, as data: the states, the events and one transition table.
 * The change service applies every approval transition through `nextApprovalStatus()`.
 * @module
 */

/**
 * `pending`: awaiting approval. `approved`: approved (before or after the fact). `rejected`: final; a
 * rejected change needs a new record. `emergency`: made before approval, flagged until approved.
 */
export const APPROVAL_STATUSES = ['pending', 'approved', 'rejected', 'emergency'] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

/** What a reviewer can do to a change. */
export const APPROVAL_EVENTS = ['approve', 'reject'] as const;
export type ApprovalEvent = (typeof APPROVAL_EVENTS)[number];

/** The one transition table. A missing entry is a refused transition. */
export const APPROVAL_TRANSITIONS: Readonly<
  Record<ApprovalStatus, Readonly<Partial<Record<ApprovalEvent, ApprovalStatus>>>>
> = {
  pending: { approve: 'approved', reject: 'rejected' },
  // Reviewed after the fact: approval clears the flag; rejection records that the review failed.
  emergency: { approve: 'approved', reject: 'rejected' },
  approved: {},
  rejected: {},
};

/** The state `event` leads to from `from`, or null when the table does not allow it. */
export function nextApprovalStatus(from: ApprovalStatus, event: ApprovalEvent): ApprovalStatus | null {
  return APPROVAL_TRANSITIONS[from][event] ?? null;
}
