import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  APPROVAL_EVENTS,
  APPROVAL_STATUSES,
  APPROVAL_TRANSITIONS,
  nextApprovalStatus,
} from './change-state.ts';

describe('approval state machine', () => {
  it('approves or rejects pending and emergency changes', () => {
    for (const from of ['pending', 'emergency'] as const) {
      assert.equal(nextApprovalStatus(from, 'approve'), 'approved');
      assert.equal(nextApprovalStatus(from, 'reject'), 'rejected');
    }
  });

  it('treats approved and rejected as final', () => {
    for (const from of ['approved', 'rejected'] as const) {
      for (const event of APPROVAL_EVENTS) assert.equal(nextApprovalStatus(from, event), null);
    }
  });

  it('has a row for every state and leads only to known states', () => {
    assert.deepEqual(Object.keys(APPROVAL_TRANSITIONS).sort(), [...APPROVAL_STATUSES].sort());
    for (const row of Object.values(APPROVAL_TRANSITIONS)) {
      for (const to of Object.values(row)) assert.ok((APPROVAL_STATUSES as readonly string[]).includes(to));
    }
  });
});
