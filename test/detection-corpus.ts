/**
 * A corpus of login traffic for judging detection: benign traces from shared networks (offices behind
 * NAT, mobile CGNAT, a campus, a VPN burst, password-manager users, a phone with a stale password) and
 * attack campaigns (brute force fast and slow, distributed, enumeration, credential stuffing, password
 * spraying, IPv6 rotation, a brute force that succeeds). Every trace is generated from a fixed seed, so
 * the same corpus comes out on every machine; `writeCorpus()` writes them as JSON lines for
 * `trailguard detect replay`.
 *
 * Attacks are mixed into a background of ordinary users on their own addresses, as they would be on a
 * real site, so that site-wide signals are judged against a baseline and not an empty room.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoginAttempt } from '../src/detect/attempt-log.ts';

export interface Trace {
  name: string;
  kind: 'benign' | 'attack';
  description: string;
  attempts: LoginAttempt[];
  /** For attacks: the addresses and accounts the attacker used (what a detector should catch). */
  attacker?: { ips: string[]; accounts: string[] };
}

/** Mulberry32: small, fast and the same everywhere. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const T0 = Date.UTC(2026, 10, 2, 0, 0, 0); // Monday 2 November 2026, 00:00 UTC
const MIN = 60_000;
const HOUR = 60 * MIN;

class Builder {
  readonly attempts: LoginAttempt[] = [];
  constructor(readonly r: () => number) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.r() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)] as T;
  }
  add(atMs: number, ip: string, username: string, success: boolean): void {
    this.attempts.push({ at: new Date(Math.round(atMs)), ip, username, success });
  }
  /** A person signing in: sometimes a typo or two first, seconds apart, then the right password. */
  session(atMs: number, ip: string, username: string, typoRate = 0.08): void {
    let t = atMs;
    if (this.r() < typoRate) {
      const typos = this.r() < 0.8 ? 1 : 2;
      for (let i = 0; i < typos; i++) {
        this.add(t, ip, username, false);
        t += this.int(4, 20) * 1000;
      }
    }
    this.add(t, ip, username, true);
  }
  /** Ordinary users on their own home addresses, spread over `hours`. */
  background(users: number, hours: number, prefix = 'user'): void {
    for (let u = 0; u < users; u++) {
      const ip = `198.51.${Math.floor(u / 250)}.${(u % 250) + 2}`;
      const logins = this.int(1, 3);
      for (let i = 0; i < logins; i++)
        this.session(T0 + this.r() * hours * HOUR, ip, `${prefix}${u}@home.example`);
    }
  }
}

const v4 = (a: number, b: number, c: number, d: number) => `${a}.${b}.${c}.${d}`;

function office(seed: number): Trace {
  const b = new Builder(rng(seed));
  const egress = ['192.0.2.10', '192.0.2.11'];
  for (let u = 0; u < 500; u++) {
    // 500 staff, 4 sign-ins each over a working day (arrival, after lunch, two session expiries).
    for (let i = 0; i < 4; i++) {
      const at = T0 + 8 * HOUR + b.r() * 9 * HOUR;
      b.session(at, b.pick(egress), `staff${u}@corp.example`, 0.1);
    }
  }
  return {
    name: 'office-nat',
    kind: 'benign',
    description: '500 staff behind 2 NAT addresses, 2,000 sign-ins in a working day, 10% with typos',
    attempts: b.attempts,
  };
}

function cgnat(seed: number): Trace {
  const b = new Builder(rng(seed));
  const egress = Array.from({ length: 64 }, (_, i) => v4(100, 64, 7, i + 1));
  // A large site's evening peak: 40,000 phone users behind one carrier's 64 egress addresses, each
  // sign-in from whichever address the carrier hands out.
  for (let u = 0; u < 40_000; u++)
    b.session(T0 + 19 * HOUR + b.r() * 2 * HOUR, b.pick(egress), `m${u}@mail.example`, 0.08);
  return {
    name: 'mobile-cgnat',
    kind: 'benign',
    description:
      "40,000 phone users behind a carrier's 64 CGNAT egress addresses in a 2-hour peak, 8% with typos",
    attempts: b.attempts,
  };
}

function campus(seed: number): Trace {
  const b = new Builder(rng(seed));
  const egress = ['203.0.113.20', '203.0.113.21', '203.0.113.22', '203.0.113.23'];
  for (let u = 0; u < 6000; u++) {
    const logins = b.int(1, 2);
    // Classes start on the hour: sign-ins bunch in the ten minutes before.
    for (let i = 0; i < logins; i++) {
      const hour = b.int(8, 17);
      b.session(T0 + hour * HOUR - b.r() * 10 * MIN, b.pick(egress), `s${u}@uni.example`, 0.12);
    }
  }
  return {
    name: 'campus',
    kind: 'benign',
    description: 'a university: 6,000 students behind 4 NAT addresses, sign-ins bunched before each class',
    attempts: b.attempts,
  };
}

function vpnBurst(seed: number): Trace {
  const b = new Builder(rng(seed));
  for (let u = 0; u < 300; u++)
    b.session(T0 + 9 * HOUR + b.r() * 10 * MIN, '192.0.2.50', `e${u}@corp.example`, 0.1);
  return {
    name: 'vpn-morning-burst',
    kind: 'benign',
    description: '300 employees connect through one VPN egress address within 10 minutes at 09:00',
    attempts: b.attempts,
  };
}

function passwordManager(seed: number): Trace {
  const b = new Builder(rng(seed));
  const ip = '198.51.100.77';
  // A stale entry in the manager fills the old password into each of three accounts, twice, before
  // the person notices and types the new one.
  for (const [i, account] of ['pat@work.example', 'pat@home.example', 'pat.admin@work.example'].entries()) {
    const t = T0 + 9 * HOUR + i * 40_000;
    b.add(t, ip, account, false);
    b.add(t + 5_000, ip, account, false);
    b.add(t + 25_000, ip, account, true);
  }
  return {
    name: 'password-manager',
    kind: 'benign',
    description: 'one person with 3 accounts whose password manager fills a stale password twice each',
    attempts: b.attempts,
  };
}

function staleMailClient(seed: number): Trace {
  const b = new Builder(rng(seed));
  const egress = Array.from({ length: 64 }, (_, i) => v4(100, 64, 9, i + 1));
  let t = T0 + 7 * HOUR;
  // The phone's mail app retries the old password every few minutes for two hours, each time from
  // whichever CGNAT address the carrier hands out, until its owner types the new one.
  while (t < T0 + 9 * HOUR) {
    b.add(t, b.pick(egress), 'sam@corp.example', false);
    t += b.int(1, 3) * MIN;
  }
  b.add(t, b.pick(egress), 'sam@corp.example', true);
  return {
    name: 'stale-mail-client',
    kind: 'benign',
    description:
      'a phone mail client with a stale password retrying for 2 hours from rotating CGNAT addresses',
    attempts: b.attempts,
  };
}

function withBackground(seed: number, fn: (b: Builder) => Omit<Trace, 'attempts'>): Trace {
  const b = new Builder(rng(seed));
  b.background(400, 24);
  const meta = fn(b);
  return { ...meta, attempts: b.attempts };
}

function bruteForce(seed: number): Trace {
  return withBackground(seed, (b) => {
    const ip = '45.155.1.10';
    for (let i = 0; i < 200; i++) b.add(T0 + 3 * HOUR + i * 3_000, ip, 'admin@site.example', false);
    return {
      name: 'brute-force',
      kind: 'attack',
      description: 'one address, 200 passwords against one account in 10 minutes',
      attacker: { ips: [ip], accounts: ['admin@site.example'] },
    };
  });
}

function slowBruteForce(seed: number): Trace {
  return withBackground(seed, (b) => {
    const ips = ['45.155.2.10', '45.155.2.11', '45.155.2.12'];
    const account = 'cfo@site.example';
    // 4 tries every 15 minutes (under the 5-in-15-minutes window) for a day, the addresses taking turns.
    for (let q = 0; q < 96; q++) {
      for (let i = 0; i < 4; i++)
        b.add(T0 + q * 15 * MIN + i * 60_000, ips[q % ips.length] as string, account, false);
    }
    return {
      name: 'slow-brute-force',
      kind: 'attack',
      description: '4 tries per 15 minutes on one account for 24 hours from 3 addresses taking turns',
      attacker: { ips, accounts: [account] },
    };
  });
}

function distributed(seed: number): Trace {
  return withBackground(seed, (b) => {
    const ips = Array.from({ length: 30 }, (_, i) => v4(45, 155, 3, i + 1));
    for (const [i, ip] of ips.entries()) b.add(T0 + 5 * HOUR + i * 20_000, ip, 'ceo@site.example', false);
    return {
      name: 'distributed-attack',
      kind: 'attack',
      description: '30 addresses in different networks, one try each on one account in 10 minutes',
      attacker: { ips, accounts: ['ceo@site.example'] },
    };
  });
}

function enumeration(seed: number): Trace {
  return withBackground(seed, (b) => {
    const ip = '45.155.4.10';
    const accounts = Array.from({ length: 60 }, (_, i) => `guess${i}@site.example`);
    for (const [i, a] of accounts.entries()) b.add(T0 + 6 * HOUR + i * 5_000, ip, a, false);
    return {
      name: 'account-enumeration',
      kind: 'attack',
      description: 'one address tries 60 different accounts in 5 minutes',
      attacker: { ips: [ip], accounts },
    };
  });
}

function stuffing(seed: number): Trace {
  return withBackground(seed, (b) => {
    const ips: string[] = [];
    const accounts: string[] = [];
    // A leaked list replayed low and slow: every address is used once, on another account.
    for (let i = 0; i < 1000; i++) {
      const ip = v4(80 + (i % 40), 10 + Math.floor(i / 40), b.int(0, 255), b.int(1, 254));
      const account = `leak${i}@site.example`;
      ips.push(ip);
      accounts.push(account);
      b.add(T0 + 10 * HOUR + i * 7_200, ip, account, b.r() < 0.01);
    }
    return {
      name: 'credential-stuffing',
      kind: 'attack',
      description: '1,000 addresses × 1 try, each on another account, over 2 hours (1% of the pairs work)',
      attacker: { ips, accounts },
    };
  });
}

function spray(seed: number): Trace {
  return withBackground(seed, (b) => {
    const ips = Array.from({ length: 2000 }, (_, i) =>
      v4(90 + (i % 20), Math.floor(i / 20), 7, (i % 250) + 1),
    );
    const accounts = Array.from({ length: 5000 }, (_, i) => `user${i}@site.example`);
    // One common password tried once on each of 5,000 accounts over 4 hours.
    for (const [i, a] of accounts.entries())
      b.add(T0 + 12 * HOUR + i * 2_880, ips[i % ips.length] as string, a, false);
    return {
      name: 'password-spray',
      kind: 'attack',
      description: 'one password over 5,000 accounts from 2,000 addresses in 4 hours',
      attacker: { ips, accounts },
    };
  });
}

function ipv6Rotation(seed: number): Trace {
  return withBackground(seed, (b) => {
    const ips: string[] = [];
    const accounts = Array.from({ length: 40 }, (_, i) => `v6target${i}@site.example`);
    // One host with a /64 picks a fresh address for every try, so no address fails twice.
    for (let i = 0; i < 200; i++) {
      const ip = `2001:db8:4:7:${b.int(1, 0xffff).toString(16)}:${b.int(1, 0xffff).toString(16)}:${b.int(1, 0xffff).toString(16)}:${(i + 1).toString(16)}`;
      ips.push(ip);
      b.add(T0 + 14 * HOUR + i * 4_000, ip, accounts[i % accounts.length] as string, false);
    }
    return {
      name: 'ipv6-rotation',
      kind: 'attack',
      description: '200 tries on 40 accounts from fresh addresses in one IPv6 /64',
      attacker: { ips, accounts },
    };
  });
}

function successAfterFailures(seed: number): Trace {
  return withBackground(seed, (b) => {
    const ip = '45.155.5.10';
    const account = 'ops@site.example';
    for (let i = 0; i < 4; i++) b.add(T0 + 15 * HOUR + i * 2 * MIN, ip, account, false);
    b.add(T0 + 15 * HOUR + 9 * MIN, ip, account, true);
    return {
      name: 'success-after-failures',
      kind: 'attack',
      description: '4 failures from a stranger address, then the right password: a takeover',
      attacker: { ips: [ip], accounts: [account] },
    };
  });
}

/** Every trace of the corpus, benign first. */
export function detectionCorpus(): Trace[] {
  return [
    office(1),
    cgnat(2),
    campus(3),
    vpnBurst(4),
    passwordManager(5),
    staleMailClient(6),
    bruteForce(11),
    slowBruteForce(12),
    distributed(13),
    enumeration(14),
    stuffing(15),
    spray(16),
    ipv6Rotation(17),
    successAfterFailures(18),
  ];
}

/** Writes each trace as `<name>.jsonl` (time-ordered) into `dir`. */
export function writeCorpus(dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  return detectionCorpus().map((t) => {
    const lines = [...t.attempts]
      .sort((a, b) => a.at.getTime() - b.at.getTime())
      .map((a) =>
        JSON.stringify({ at: a.at.toISOString(), ip: a.ip, username: a.username, success: a.success }),
      );
    const file = join(dir, `${t.name}.jsonl`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    return file;
  });
}
