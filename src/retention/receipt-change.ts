/**
 * A retention receipt as a `data_retention` change, so auditors find each run with the changes: one
 * line per item in the description, the first 50 items in the metadata.
 * @module
 */
import type { LogChangeInput } from '../domain/change.ts';
import type { RetentionItem, RetentionReceipt } from './types.ts';

function describeItem(i: RetentionItem): string {
  const dependents = i.dependents
    ? ` (${Object.entries(i.dependents)
        .map(([t, n]) => `+${n} ${t}`)
        .join(', ')})`
    : '';
  const archive = i.archive ? ` archive ${i.archive.file} sha256 ${i.archive.sha256}` : '';
  return `${i.table} ${i.period}: ${i.method} ${i.rows}${dependents} [${i.range.from} – ${i.range.to})${archive}`;
}

/** The change that records `receipt` in the change log. */
export function receiptChange(receipt: RetentionReceipt): LogChangeInput {
  return {
    changeType: 'data_retention',
    title: `Retention run removed ${receipt.totalRows} record(s)`,
    description: receipt.items.map(describeItem).join('\n') || 'nothing was due',
    performedBy: { id: 'trailguard:retention', name: 'Trailguard retention' },
    impactLevel: 'low',
    affectedSystems: [...new Set(receipt.items.map((i) => i.table))],
    deployedAt: receipt.startedAt,
    metadata: {
      receiptId: receipt.id,
      totalRows: receipt.totalRows,
      items: receipt.items.slice(0, 50).map((i) => ({
        table: i.table,
        period: i.period,
        method: i.method,
        rows: i.rows,
        ...(i.dependents ? { dependents: i.dependents } : {}),
        range: i.range,
        archive: i.archive ? { file: i.archive.file, sha256: i.archive.sha256 } : null,
      })),
    },
  };
}
