/**
 * The change log's error codes (stable; the HTTP status is what the server answers).
 * @module
 */
import type { ErrorCodeTable } from '../domain/errors.ts';

export const CHANGE_ERROR_CODES = {
  CHANGE_NOT_FOUND: { status: 404, description: 'No change with this id exists.' },
  CHANGE_SELF_APPROVAL: {
    status: 409,
    description: 'The approver is the person who performed the change (separation of duties).',
  },
  CHANGE_INVALID_TRANSITION: {
    status: 409,
    description:
      'The change is not in an approval state that allows this (e.g. approving a rejected change).',
  },
  CHANGE_ALREADY_ROLLED_BACK: { status: 409, description: 'The change has already been rolled back.' },
  CHANGE_NOT_ROLLBACKABLE: {
    status: 409,
    description: 'The change is marked canRollback: false; pass force to record the rollback anyway.',
  },
  CHANGE_FIELD_NOT_EDITABLE: {
    status: 400,
    description: 'The patch touches a field that update() may not change (only descriptive fields).',
  },
} as const satisfies ErrorCodeTable;

export type ChangeErrorCode = keyof typeof CHANGE_ERROR_CODES;
