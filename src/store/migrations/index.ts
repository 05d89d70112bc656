/**
 * Every migration, in order. Names sort lexically; never rename or edit one that has shipped: add a new one.
 * @module
 */
import type { Migration } from 'kysely';
import * as m0001 from './0001-login-history.ts';
import * as m0002 from './0002-security-events.ts';
import * as m0003 from './0003-change-log.ts';
import * as m0004 from './0004-server-auth.ts';
import * as m0005 from './0005-compliance.ts';
import * as m0006 from './0006-change-history-pseudonymise.ts';
import * as m0007 from './0007-write-path.ts';
import * as m0008 from './0008-daily-rollup.ts';
import * as m0009 from './0009-login-events-inline.ts';
import * as m0010 from './0010-pseudonymise-only-to-pseudonyms.ts';
import * as m0011 from './0011-login-logout-index.ts';
import * as m0012 from './0012-integrity-seal.ts';
import * as m0013 from './0013-idempotency-lease.ts';
import * as m0014 from './0014-signal-claims.ts';
import * as m0015 from './0015-incidents.ts';

export const migrations: Record<string, Migration> = {
  '0001-login-history': m0001,
  '0002-security-events': m0002,
  '0003-change-log': m0003,
  '0004-server-auth': m0004,
  '0005-compliance': m0005,
  '0006-change-history-pseudonymise': m0006,
  '0007-write-path': m0007,
  '0008-daily-rollup': m0008,
  '0009-login-events-inline': m0009,
  '0010-pseudonymise-only-to-pseudonyms': m0010,
  '0011-login-logout-index': m0011,
  '0012-integrity-seal': m0012,
  '0013-idempotency-lease': m0013,
  '0014-signal-claims': m0014,
  '0015-incidents': m0015,
};
