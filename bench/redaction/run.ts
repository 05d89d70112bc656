/**
 * bench/redaction — the cost of redacting one login's metadata and failure reason, as `record()` does,
 * in µs per call. Usage: node --import tsx bench/redaction/run.ts [path/to/src/domain/redact.ts]
 * (default this checkout's), so an older checkout's rule can be timed by the same script.
 * @module
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const modulePath = resolve(
  process.argv[2] ?? new URL('../../src/domain/redact.ts', import.meta.url).pathname,
);
const mod = (await import(pathToFileURL(modulePath).href)) as {
  redactSecrets(v: unknown): unknown;
  redactText?: (s: string) => string;
};

/** Metadata shaped like what login integrations pass: a few flags and names, one URL, one id. */
const METADATA = [
  { app: 'bench' },
  {
    app: 'web',
    method: 'password',
    mfaEnabled: true,
    plan: 'team',
    tenant: 'acme-eu',
    returnTo: 'https://app.example.com/dashboard?tab=usage&range=7d',
    requestId: '01J9ZK8Q7Y3V5W2X4T6R8P0N1M',
    client: { name: 'ios', version: '18.1.2' },
  },
  {
    app: 'api',
    provider: 'google',
    scopes: ['openid', 'email', 'profile'],
    callback: 'https://app.example.com/auth/callback?code=4/0AeanS0b&state=xyz',
    session: 's:abc.def',
  },
];
const REASONS = ['invalid_password', 'account locked after 5 attempts: see https://status.example.com', null];

function run(iterations: number): number {
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const m = mod.redactSecrets(METADATA[i % METADATA.length]) as Record<string, unknown>;
    sink += Object.keys(m).length;
    const reason = REASONS[i % REASONS.length];
    if (reason && mod.redactText) sink += mod.redactText(reason).length;
  }
  const ns = Number(process.hrtime.bigint() - t0);
  if (sink < 0) console.log(sink);
  return ns / iterations / 1000;
}

run(50_000); // warm-up
const samples = Array.from({ length: 7 }, () => run(200_000)).sort((a, b) => a - b);
console.log(
  `${modulePath}: median ${(samples[3] as number).toFixed(2)} µs per login (min ${(samples[0] as number).toFixed(2)}, max ${(samples[6] as number).toFixed(2)})`,
);
