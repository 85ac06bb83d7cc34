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
            <th scope="col" class="num">
              Requests
            </th>
            <th scope="col" class="num">
              Successes
            </th>
            <th scope="col" class="num">
              Images
            </th>
            <th scope="col" class="num">
              Tokens
            </th>
            <th scope="col" class="num">
              p50 ms
            </th>
            <th scope="col" class="num">
              p95 ms
            </th>
            <th scope="col" class="num">
              est. cost
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.key}>
              <th scope="row">{describeGroup(r, 'key')}</th>
              <td class="num">{formatCount(r.requests)}</td>
              <td class="num">{formatCount(r.successes)}</td>
              <td class="num">{formatCount(r.images)}</td>
              <td class="num">{formatCount(r.total_tokens)}</td>
              <td class="num">{formatMs(r.latency_p50_ms)}</td>
              <td class="num">{formatMs(r.latency_p95_ms)}</td>
              <td class="num">{formatUsdMicros(r.estimated_cost_micros)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}
