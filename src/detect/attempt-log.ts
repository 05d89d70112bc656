/**
 * Reads logs of login attempts for a replay: Trailguard's own JSON lines (the `export --format jsonl`
 * output or the ingestion API's records) and OpenSSH `auth.log` lines. Lines that are not a login
 * attempt are counted and skipped, never an error: real logs are mostly other things.
 * @module
 */
import { normalizeIp } from '../domain/validation.ts';

/** One login attempt, in event time. */
export interface LoginAttempt {
  at: Date;
  ip: string;
  username: string;
  success: boolean;
}

/** How to read each line: `auto` tells JSON (a line starting with `{`) from syslog text. */
export type AttemptLogFormat = 'auto' | 'jsonl' | 'auth-log';
export const ATTEMPT_LOG_FORMATS = ['auto', 'jsonl', 'auth-log'] as const;

export interface AttemptLogOptions {
  format?: AttemptLogFormat | undefined;
  /**
   * The year of the first traditional syslog time stamp (`Dec  2 17:32:27`), which carries none; when
   * the dates jump back by more than a month the log has crossed New Year and the year goes up by one.
   * Such time stamps are read as UTC. @default the current year
   */
  year?: number | undefined;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

// `Dec  2 17:32:27 host sshd[1]: …` or `2026-12-02T17:32:27.123456+00:00 host sshd[1]: …`
const SYSLOG_PREFIX =
  /^(?:(?<mon>[A-Z][a-z]{2}) +(?<day>\d{1,2}) (?<time>\d\d:\d\d:\d\d)|(?<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)) \S+ sshd(?:-session)?\[\d+\]: (?<msg>.*)$/;
// OpenSSH's verdicts. Public-key failures are left out: a client offering several keys logs one per
// key it tries before the right one, which is not an attack.
const FAILED =
  /^Failed (?:password|keyboard-interactive\/pam) for (?:invalid user )?(?<user>.*?) from (?<ip>[0-9A-Fa-f.:]+) port \d+/;
const ACCEPTED = /^Accepted \S+ for (?<user>.*?) from (?<ip>[0-9A-Fa-f.:]+) port \d+/;
const REPEATED = /^message repeated (?<n>\d+) times: \[ ?(?<msg>.*?) ?\]$/;

/** Parses lines into attempts; `skipped` counts lines that were not one. */
export class AttemptLogReader {
  skipped = 0;
  private readonly format: AttemptLogFormat;
  private year: number;
  private lastSyslogMs = -Infinity;

  constructor(options: AttemptLogOptions = {}) {
    this.format = options.format ?? 'auto';
    this.year = options.year ?? new Date().getUTCFullYear();
  }

  /** The attempts one line stands for: none, one, or several (`message repeated N times`). */
  read(line: string): LoginAttempt[] {
    const text = line.trim();
    if (text === '') return [];
    const json = this.format === 'jsonl' || (this.format === 'auto' && text.startsWith('{'));
    const out = json ? this.readJson(text) : this.readSyslog(text);
    if (out.length === 0) this.skipped += 1;
    return out;
  }

  private readJson(text: string): LoginAttempt[] {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      return [];
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return [];
    const r = v as Record<string, unknown>;
    // An export's logout line repeats its login; only the attempt counts.
    if (r['event'] !== undefined && r['event'] !== 'login') return [];
    const ipRaw = r['ipAddress'] ?? r['ip'];
    const user = r['username'];
    const success = r['success'];
    const time = r['loginAt'] ?? r['occurredAt'] ?? r['at'];
    if (typeof ipRaw !== 'string' || typeof user !== 'string' || typeof success !== 'boolean') return [];
    if (typeof time !== 'string' && typeof time !== 'number') return [];
    const ip = normalizeIp(ipRaw);
    const at = new Date(time);
    if (ip === null || user.trim() === '' || Number.isNaN(at.getTime())) return [];
    return [{ at, ip, username: user, success }];
  }

  private readSyslog(text: string): LoginAttempt[] {
    const m = SYSLOG_PREFIX.exec(text);
    if (!m?.groups) return [];
    const g = m.groups;
    let msg = g['msg'] as string;
    let times = 1;
    const rep = REPEATED.exec(msg);
    if (rep?.groups) {
      times = Math.min(Number(rep.groups['n']), 10_000);
      msg = rep.groups['msg'] as string;
    }
    const verdict = FAILED.exec(msg) ?? ACCEPTED.exec(msg);
    if (!verdict?.groups) return [];
    const ip = normalizeIp(verdict.groups['ip'] as string);
    const username = verdict.groups['user'] as string;
    const at = g['iso'] ? new Date(g['iso']) : this.syslogTime(g['mon'], g['day'], g['time']);
    if (ip === null || username === '' || at === null || Number.isNaN(at.getTime())) return [];
    const success = msg.startsWith('Accepted');
    return Array.from({ length: times }, () => ({ at, ip, username, success }));
  }

  private syslogTime(mon?: string, day?: string, time?: string): Date | null {
    const month = MONTHS.indexOf(mon ?? '');
    if (month < 0 || !day || !time) return null;
    const [h, mi, s] = time.split(':').map(Number) as [number, number, number];
    let ms = Date.UTC(this.year, month, Number(day), h, mi, s);
    // Lines run forward in time: a jump back by months means the log crossed New Year.
    if (ms < this.lastSyslogMs - 30 * 86_400_000) {
      this.year += 1;
      ms = Date.UTC(this.year, month, Number(day), h, mi, s);
    }
    this.lastSyslogMs = ms;
    return new Date(ms);
  }
}
