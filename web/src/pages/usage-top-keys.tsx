/** The Usage page's table of the keys that sent the most requests in the range. */
import type { UsageReport, UsageRow } from '../types.js';
import { TableWrap, formatCount } from '../ui.js';
import { formatUsdMicros } from '../../../src/pricing/format-usd.js';
import { describeGroup } from '../usage-data.js';

/** Rows shown; the CSV download has every key. */
export const TOP_KEYS_SHOWN = 20;

/** A `by=key` report's rows, most requests first (then most images, then by name). */
export function rankKeys(rows: readonly UsageRow[]): UsageRow[] {
  return [...rows].sort((a, b) => b.requests - a.requests || b.images - a.images || describeGroup(a, 'key').localeCompare(describeGroup(b, 'key')));
}

const formatMs = (ms: number | null): string => (ms === null ? '—' : formatCount(Math.round(ms)));

/** The table's figure columns after the key: heading and cell, in order. */
const COLUMNS: ReadonlyArray<readonly [heading: string, cell: (r: UsageRow) => string]> = [
  ['Requests', (r) => formatCount(r.requests)],
  ['Successes', (r) => formatCount(r.successes)],
  ['Images', (r) => formatCount(r.images)],
  ['Tokens', (r) => formatCount(r.total_tokens)],
  ['p50 ms', (r) => formatMs(r.latency_p50_ms)],
  ['p95 ms', (r) => formatMs(r.latency_p95_ms)],
  ['est. cost', (r) => formatUsdMicros(r.estimated_cost_micros)],
];

/** The top keys of a `by=key` report, with their estimated cost. */
export function TopKeysTable({ report }: { report: UsageReport }) {
  const rows = rankKeys(report.rows).slice(0, TOP_KEYS_SHOWN);
  if (rows.length === 0) return <p class="muted">No requests in this range.</p>;
  return (
    <TableWrap label="Top keys">
      <table aria-label="Top keys">
        <thead>
          <tr>
            <th scope="col">Key</th>
            {COLUMNS.map(([heading]) => (
              <th key={heading} scope="col" class="num">
                {heading}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.key}>
              <th scope="row">{describeGroup(r, 'key')}</th>
              {COLUMNS.map(([heading, cell]) => (
                <td key={heading} class="num">
                  {cell(r)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}
