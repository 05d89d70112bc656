/**
 * The demo: a realistic week of logins (several users, devices and countries, typos, a password-guessing
 * IP, logouts) recorded through the public API, then the seed's example queries answered from it.
 * @module
 */
import type { Trailguard } from '../trailguard.ts';
import type { LoginRecord, LoginType } from '../domain/login.ts';

export const DEMO_USER_AGENTS = {
  chromeWindows:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  safariMac:
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  firefoxLinux: 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  iphone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  android:
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36',
  ipad: 'Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.7 Mobile/15E148 Safari/604.1',
  galaxyTab:
    'Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36',
  googlebot: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  curl: 'curl/8.5.0',
} as const;

interface DemoUser {
  id: string;
  username: string;
  ip: string;
  userAgent: string;
  loginType: LoginType;
  travelIp?: string;
}

const USERS: DemoUser[] = [
  {
    id: '1001',
    username: 'alice@example.com',
    ip: '8.8.8.8',
    userAgent: DEMO_USER_AGENTS.chromeWindows,
    loginType: 'password',
    travelIp: '133.242.0.1',
  },
  {
    id: '1002',
    username: 'bob@example.com',
    ip: '81.2.69.160',
    userAgent: DEMO_USER_AGENTS.iphone,
    loginType: 'magic_link',
  },
  {
    id: '1003',
    username: 'carol@example.com',
    ip: '2a00:1450:4001:82b::200e',
    userAgent: DEMO_USER_AGENTS.ipad,
    loginType: 'sso',
  },
  {
    id: '1004',
    username: 'dave@example.com',
    ip: '90.84.0.1',
    userAgent: DEMO_USER_AGENTS.android,
    loginType: 'passkey',
  },
  {
    id: '1005',
    username: 'erin@example.com',
    ip: '200.160.2.3',
    userAgent: DEMO_USER_AGENTS.safariMac,
    loginType: 'oauth',
  },
  {
    id: '1',
    username: 'admin',
    ip: '1.1.1.1',
    userAgent: DEMO_USER_AGENTS.firefoxLinux,
    loginType: 'password',
  },
];

const ATTACKER_IP = '185.220.101.1';

/** Deterministic pseudo-random numbers, so every demo run tells the same story. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Records the sample; returns how many login records it wrote. */
export async function recordDemoLogins(tg: Trailguard, now: Date, days = 7): Promise<number> {
  const rand = rng(42);
  const writes: Promise<LoginRecord | null>[] = [];
  const dayMs = 86_400_000;
  let count = 0;
  for (let d = days - 1; d >= 0; d--) {
    for (const u of USERS) {
      const sessions = 1 + Math.floor(rand() * 3);
      for (let s = 0; s < sessions; s++) {
        const at = new Date(now.getTime() - d * dayMs - Math.floor(rand() * dayMs * 0.9) - 3_600_000);
        // A typo first, sometimes.
        if (rand() < 0.25) {
          writes.push(
            tg.logins.record({
              username: u.username,
              userId: u.id,
              success: false,
              failureReason: 'invalid_password',
              loginType: u.loginType,
              ip: u.ip,
              userAgent: u.userAgent,
              occurredAt: new Date(at.getTime() - 20_000),
            }),
          );
          count++;
        }
        const travelling = u.travelIp !== undefined && d === 2;
        const sessionKey = `demo-${u.id}-${d}-${s}`;
        const ip = travelling && u.travelIp ? u.travelIp : u.ip;
        writes.push(
          tg.logins
            .record({
              username: u.username,
              userId: u.id,
              success: true,
              loginType: u.loginType,
              ip,
              sessionKey,
              occurredAt: at,
              headers: {
                'user-agent': u.userAgent,
                referer: 'https://app.example.com/login',
                'accept-language': 'en-GB,en;q=0.9',
              },
            })
            .then(() =>
              rand() < 0.8
                ? tg.logins.recordLogout({
                    userId: u.id,
                    sessionKey,
                    occurredAt: new Date(at.getTime() + Math.floor(5 * 60_000 + rand() * 3 * 3_600_000)),
                  })
                : null,
            ),
        );
        count++;
      }
    }
  }
  // Someone guessing admin's password, then trying a list of accounts, within the last hour.
  for (let i = 0; i < 12; i++) {
    writes.push(
      tg.logins.record({
        username: 'admin',
        success: false,
        failureReason: 'invalid_password',
        ip: ATTACKER_IP,
        userAgent: DEMO_USER_AGENTS.curl,
        occurredAt: new Date(now.getTime() - 12 * 60_000 + i * 30_000),
      }),
    );
    count++;
  }
  for (let i = 0; i < 22; i++) {
    writes.push(
      tg.logins.record({
        username: `user${i}@example.com`,
        success: false,
        failureReason: 'unknown_user',
        ip: ATTACKER_IP,
        userAgent: DEMO_USER_AGENTS.curl,
        occurredAt: new Date(now.getTime() - 5 * 60_000 + i * 10_000),
      }),
    );
    count++;
  }
  writes.push(
    tg.logins.record({
      username: 'carol@example.com',
      success: false,
      failureReason: 'invalid_password',
      ip: '41.203.64.1',
      userAgent: DEMO_USER_AGENTS.googlebot,
      occurredAt: new Date(now.getTime() - 30 * 60_000),
    }),
  );
  count++;
  await Promise.all(writes);
  return count;
}

function row(r: LoginRecord): string {
  const status = r.success ? 'ok  ' : 'FAIL';
  const where = [r.country, r.city].filter(Boolean).join('/') || '-';
  const dur = r.sessionDurationSeconds === null ? '' : ` session ${formatDuration(r.sessionDurationSeconds)}`;
  return `  ${r.loginAt.toISOString()}  ${status} ${r.username.padEnd(20)} ${String(r.ipAddress ?? '-').padEnd(26)} ${r.deviceType.padEnd(7)} ${(r.browser ?? '-').padEnd(14)} ${where}${r.failureReason ? ` (${r.failureReason})` : ''}${dur}`;
}

export function formatDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(s).padStart(2, '0')}s` : `${s}s`;
}

/** `trailguard demo`: record the sample, then print the seed's queries and their answers. */
export async function runDemo(
  tg: Trailguard,
  out: { write(s: string): unknown },
  options: { securityLogFile?: string } = {},
): Promise<void> {
  const now = tg.config.clock.now();
  const started = performance.now();
  const n = await recordDemoLogins(tg, now);
  out.write(
    `Recorded ${n} login attempts for ${USERS.length} users over 7 days into ${tg.database.location} (${tg.database.backend}) in ${Math.round(performance.now() - started)} ms.\n\n`,
  );

  const last = await tg.logins.lastLogin('1001');
  out.write(
    `tg.logins.lastLogin('1001')  — alice's last successful login\n${last ? row(last) : '  none'}\n\n`,
  );

  const failed = await tg.logins.failed({ username: 'admin', hours: 24 });
  out.write(
    `tg.logins.failed({ username: 'admin', hours: 24 })  — ${failed.length} failed attempts\n${failed.slice(0, 3).map(row).join('\n')}\n  …\n\n`,
  );

  const fromIp = await tg.logins.list({ ip: '185.220.101.0/24', limit: 5 });
  out.write(
    `tg.logins.list({ ip: '185.220.101.0/24', limit: 5 })  — logins from one network\n${fromIp.items.map(row).join('\n')}\n\n`,
  );

  const mobile = await tg.logins.list({ deviceType: 'mobile', success: true, limit: 5 });
  out.write(
    `tg.logins.list({ deviceType: 'mobile', success: true, limit: 5 })\n${mobile.items.map(row).join('\n')}\n\n`,
  );

  const userLogins = await tg.logins.list({ userId: '1002', success: true, limit: 3 });
  out.write(
    `tg.logins.list({ userId: '1002', success: true, limit: 3 })  — bob's logins, newest first\n${userLogins.items.map(row).join('\n')}\n\n`,
  );

  const week = await tg.logins.stats({
    from: new Date(now.getTime() - 7 * 86_400_000),
    to: new Date(now.getTime() + 1),
  });
  out.write(
    `Success rate, last 7 days: ${week.successRate === null ? 'n/a' : `${week.successRate.toFixed(1)}%`} of ${week.total} attempts\n`,
  );
  out.write(`Device types, last 7 days: ${week.deviceTypes.map((d) => `${d.key} ${d.count}`).join(', ')}\n`);
  out.write(`Countries, last 7 days: ${week.countries.map((d) => `${d.key} ${d.count}`).join(', ')}\n`);
  const busiest = [...week.perHour]
    .sort((a, b) => b.success + b.failure - (a.success + a.failure))
    .slice(0, 3);
  out.write(
    `Busiest hours: ${busiest.map((h) => `${h.hour.toISOString().slice(0, 13)}:00 (${h.success + h.failure})`).join(', ')}\n`,
  );

  const top = await tg.logins.topFailingIps({ from: new Date(now.getTime() - 3_600_000), limit: 5 });
  out.write(
    `Top IPs by failed logins, last hour: ${top.map((t) => `${t.ip} (${t.count})`).join(', ') || 'none'}\n`,
  );

  const recent = await tg.logins.list({ userId: '1001', success: true, limit: 10 });
  const countries = [...new Set(recent.items.map((r) => r.country).filter(Boolean))];
  if (countries.length > 1)
    out.write(`Alert: alice logged in from more than one country recently: ${countries.join(', ')}\n`);

  const signals = await tg.security.events({
    type: 'suspicious_activity',
    from: new Date(now.getTime() - 3_600_000),
    limit: 20,
  });
  out.write(`\nDetection, last hour — tg.security.events({ type: 'suspicious_activity' }):\n`);
  for (const e of signals.items) {
    out.write(
      `  ${e.occurredAt.toISOString()}  ${e.severity.toUpperCase()} ${String(e.context['pattern'])} on ${String(e.context['key'])} (${String(e.context['count'])} ≥ ${String(e.context['threshold'])} in ${Number(e.context['window_seconds']) / 60} min)\n`,
    );
  }
  if (!signals.items.length) out.write('  none\n');
  out.write(
    `tg.security.isSuspicious({ ip: '${ATTACKER_IP}' }) → ${String(await tg.security.isSuspicious({ ip: ATTACKER_IP }))}\n`,
  );
  if (options.securityLogFile) out.write(`Security event JSON lines: ${options.securityLogFile}\n`);
  out.write('\nIP geolocation by DB-IP (https://db-ip.com), CC BY 4.0.\n');
}

/**
 * The attacks the server demo shows besides the brute force in `recordDemoLogins`: a distributed attack
 * (many addresses against one account) and an enumeration (one address trying many accounts), both
 * within the last few hours. Returns how many attempts it wrote.
 */
export async function recordDemoAttacks(tg: Trailguard, now: Date): Promise<number> {
  const writes: Promise<LoginRecord>[] = [];
  // Distributed: 14 addresses from a botnet, 3 tries each, against bob within 25 minutes.
  for (let i = 0; i < 14; i++) {
    for (let t = 0; t < 3; t++) {
      writes.push(
        tg.logins.record({
          username: 'bob@example.com',
          success: false,
          failureReason: 'invalid_password',
          ip: `45.155.${20 + i}.${10 + t * 7}`,
          userAgent: DEMO_USER_AGENTS.chromeWindows,
          occurredAt: new Date(now.getTime() - 3 * 3_600_000 + (i * 3 + t) * 35_000),
        }),
      );
    }
  }
  // Enumeration: one address tries 26 different accounts in 8 minutes.
  const names = [
    'info',
    'sales',
    'support',
    'test',
    'root',
    'jdoe',
    'admin1',
    'ops',
    'dev',
    'hr',
    'it',
    'ceo',
    'cfo',
  ];
  for (let i = 0; i < 26; i++) {
    writes.push(
      tg.logins.record({
        username: `${names[i % names.length] ?? 'user'}${i >= names.length ? '2' : ''}@example.com`,
        success: false,
        failureReason: 'unknown_user',
        ip: '193.32.162.7',
        userAgent: DEMO_USER_AGENTS.curl,
        occurredAt: new Date(now.getTime() - 6 * 3_600_000 + i * 18_000),
      }),
    );
  }
  await Promise.all(writes);
  return writes.length;
}

/**
 * A month of production changes for the server demo: weekly deployments with commit times, config and
 * schema changes, an emergency security fix approved afterwards, one rejected change, one failed
 * validation and one rollback, and two incidents linked to the changes that caused them — so the change
 * report, DORA and the dashboard have something to show.
 * Returns how many changes it logged.
 */
export async function recordDemoChanges(tg: Trailguard, now: Date): Promise<number> {
  const hour = 3_600_000;
  const day = 24 * hour;
  const dev = { id: 'u-1002', name: 'Bob Builder' };
  const ops = { id: 'u-1004', name: 'Dave Ops' };
  const lead = { id: 'u-1005', name: 'Erin Lead' };
  const ci = { id: 'ci', name: 'GitHub Actions' };
  const at = (daysAgo: number, h = 10) => new Date(now.getTime() - daysAgo * day + (h - 12) * hour);
  let count = 0;
  const commit = (n: number) => (0xabc0000 + n * 7919).toString(16);

  // Weekly deployments, approved by the lead, validated by CI.
  for (let w = 0; w < 4; w++) {
    const deployedAt = at(27 - w * 7, 14);
    const c = await tg.changes.log({
      changeType: 'deployment',
      title: `Deploy v1.${w + 1}.0`,
      version: `v1.${w + 1}.0`,
      impactLevel: w === 2 ? 'high' : 'medium',
      affectedSystems: ['api', 'web'],
      performedBy: dev,
      deployedAt,
      gitCommit: commit(w),
      gitBranch: 'main',
      gitCommittedAt: new Date(deployedAt.getTime() - (6 + w * 5) * hour),
      rollbackInstructions: `redeploy v1.${w}.0`,
      ticket: `REL-${40 + w}`,
    });
    count++;
    await tg.changes.approve(c.id, { by: lead, note: 'release review ok' });
    // v1.3.0 fails its smoke tests and is rolled back.
    if (w === 2) {
      await tg.changes.setValidation(c.id, { status: 'failed', by: ci, notes: 'checkout smoke test failed' });
      await tg.changes.markRolledBack(c.id, { by: ops, notes: 'p99 latency doubled; rolled back to v1.2.0' });
      // The failure users saw: it began 20 minutes after the deployment and was over when the rollback
      // finished, two hours later (the source of DORA's time to restore).
      const incident = await tg.incidents.open({
        title: 'Checkout p99 latency doubled',
        severity: 'high',
        affectedSystems: ['api', 'web'],
        openedBy: ops,
        startedAt: new Date(deployedAt.getTime() + hour / 3),
        detectedAt: new Date(deployedAt.getTime() + (35 / 60) * hour),
        causes: [c.id],
      });
      await tg.incidents.resolve(incident.id, {
        by: ops,
        resolvedAt: new Date(deployedAt.getTime() + 2 * hour + hour / 3),
        note: 'rolled back to v1.2.0; latency back to normal',
      });
    } else {
      await tg.changes.setValidation(c.id, { status: 'passed', by: ci, notes: 'smoke tests green' });
    }
  }
  const config = await tg.changes.log({
    changeType: 'configuration',
    title: 'Raise the API rate limit to 600/min',
    impactLevel: 'low',
    affectedSystems: ['api'],
    performedBy: ops,
    approvedBy: lead,
    deployedAt: at(20),
  });
  count++;
  await tg.changes.setValidation(config.id, { status: 'passed', by: ops });
  // A partner integration hit the new limit's burst rule: a small incident, fixed by configuration.
  const throttled = await tg.incidents.open({
    title: 'Partner API clients throttled (HTTP 429)',
    severity: 'medium',
    affectedSystems: ['api'],
    openedBy: ops,
    startedAt: new Date(at(20).getTime() + hour / 2),
    detectedAt: new Date(at(20).getTime() + hour),
    causes: [config.id],
  });
  await tg.incidents.resolve(throttled.id, {
    by: ops,
    resolvedAt: new Date(at(20).getTime() + 2 * hour),
    note: 'burst allowance raised for the partner key',
  });
  const schema = await tg.changes.log({
    changeType: 'schema_change',
    title: 'Add index on orders(customer_id)',
    impactLevel: 'medium',
    affectedSystems: ['postgres'],
    performedBy: dev,
    deployedAt: at(12),
    canRollback: false,
    testingNotes: 'EXPLAIN on a production copy',
    ticket: 'DB-12',
  });
  count++;
  await tg.changes.approve(schema.id, { by: ops });
  // An emergency fix at night, approved after the fact.
  const hotfix = await tg.changes.log({
    changeType: 'security_update',
    title: 'Patch OpenSSL (CVE response)',
    impactLevel: 'critical',
    affectedSystems: ['api', 'auth', 'web'],
    performedBy: ops,
    approvalStatus: 'emergency',
    deployedAt: at(5, 3),
    ticket: 'SEC-7',
  });
  count++;
  await tg.changes.approve(hotfix.id, { by: lead, note: 'reviewed after the fact' });
  await tg.changes.log({
    changeType: 'feature_flag',
    title: 'Enable new checkout for 10% of users',
    impactLevel: 'high',
    affectedSystems: ['web'],
    performedBy: dev,
    deployedAt: at(2),
  });
  count++;
  const rejected = await tg.changes.log({
    changeType: 'infrastructure',
    title: 'Move the database to a smaller instance',
    impactLevel: 'critical',
    affectedSystems: ['postgres'],
    performedBy: ops,
    deployedAt: at(1),
  });
  count++;
  await tg.changes.reject(rejected.id, { by: lead, reason: 'no load test; resubmit with one' });
  return count;
}
