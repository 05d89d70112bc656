/**
 * bench/detect/corpus: replays every trace of the detection corpus (test/detection-corpus.ts) through
 * a detection configuration and prints, per trace, the signals raised and what enforce mode would have
 * refused — false positives on the benign traces, catches and misses on the attacks.
 * `node --import tsx bench/detect/corpus.ts [--config detection.json] [--json]`
 */
import { readFileSync } from 'node:fs';
import { replayAttempts } from '../../src/detect/replay.ts';
import { detectionCorpus } from '../../test/detection-corpus.ts';

const argv = process.argv.slice(2);
const at = argv.indexOf('--config');
const detection: unknown = at >= 0 ? JSON.parse(readFileSync(argv[at + 1] as string, 'utf8')) : {};

const rows = [];
for (const trace of detectionCorpus()) {
  const r = await replayAttempts(trace.attempts, detection);
  const keys = new Set(r.signals.map((s) => s.key));
  const caught = trace.attacker
    ? trace.attacker.ips.some((ip) => keys.has(ip)) || trace.attacker.accounts.some((a) => keys.has(a))
    : null;
  const benignSignals = trace.attacker
    ? r.signals.filter(
        (s) => !trace.attacker?.ips.includes(s.key) && !trace.attacker?.accounts.includes(s.key),
      ).length
    : r.signals.length;
  rows.push({
    trace: trace.name,
    kind: trace.kind,
    attempts: r.attempts,
    signals: r.signals.length,
    byPattern: r.signalsByPattern,
    caught,
    signalsOnBenign: benignSignals,
    refused: r.refused.attempts,
    rightPasswordsRefused: r.refused.successes,
    likelyLegitimateRefused: r.refused.likelyLegitimate,
  });
}

if (argv.includes('--json')) {
  process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
} else {
  const head = [
    'trace',
    'kind',
    'attempts',
    'signals',
    'caught',
    'on benign',
    'refused',
    'right pw refused',
    'likely legit refused',
  ];
  const table = rows.map((r) => [
    r.trace,
    r.kind,
    String(r.attempts),
    `${r.signals} ${JSON.stringify(r.byPattern)}`,
    r.caught === null ? '-' : r.caught ? 'yes' : 'MISSED',
    String(r.signalsOnBenign),
    String(r.refused),
    String(r.rightPasswordsRefused),
    String(r.likelyLegitimateRefused),
  ]);
  process.stdout.write(`| ${head.join(' | ')} |\n|${head.map(() => '---').join('|')}|\n`);
  for (const t of table) process.stdout.write(`| ${t.join(' | ')} |\n`);
}
