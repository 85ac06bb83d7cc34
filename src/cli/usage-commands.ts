import { Option, type Command } from 'commander';
import { buildWireView } from '../control/admin-wire.js';
import type { UsageReport } from '../control/usage-types.js';
import { formatUsageReportCsv } from '../control/usage-report.js';
import { parseUsageReportQuery } from '../control/usage-report-query.js';
import { assertNever } from '../guards/assert-never.js';
import { USAGE_ROLLUP_GROUPINGS } from '../store/usage-rollup-repo.js';
import { withControl } from './control-context.js';
import { addDataOptions, type DataCommandFlags } from './control-options.js';
import { formatJson } from './print.js';
import { formatUsageTable } from './usage-table.js';

/** The outputs of `usage`: an aligned table for people, the admin API's JSON, or its CSV. */
export const USAGE_FORMATS = ['table', 'json', 'csv'] as const;
/** One of USAGE_FORMATS. */
export type UsageFormat = (typeof USAGE_FORMATS)[number];

/** What commander parses for `usage`: the report's parameters as typed (parseUsageReportQuery reads them). */
interface UsageFlags extends DataCommandFlags {
  since?: string;
  until?: string;
  by?: string;
  key?: string;
  account?: string;
  format?: UsageFormat;
}

/**
 * The report as the format asks, ready to write as is: the CSV byte for byte as the admin API
 * serves it (formatUsageReportCsv, CRLF line ends), the JSON as its snake_case wire view.
 */
export function formatUsageOutput(report: UsageReport, format: UsageFormat): string {
  switch (format) {
    case 'csv':
      return formatUsageReportCsv(report);
    case 'json':
      return `${formatJson(buildWireView(report))}\n`;
    case 'table':
      return `${formatUsageTable(report)}\n`;
    default:
      return assertNever(format);
  }
}

/** Registers `usage`: the usage history of a time range from the persistent rollups, grouped and filtered. */
export function registerUsageCommands(program: Command): void {
  addDataOptions(
    program
      .command('usage')
      .description(
        'usage history of a time range (requests, failures, images, tokens, estimated cost, latency), grouped by key, account, model, endpoint, day or hour',
      ),
  )
    .option('--since <when>', 'start of the range: ms since epoch, an ISO 8601 time, or that long before now (24h, 7d, 30d); default 24h before --until')
    .option('--until <when>', 'end of the range (not included), in the same forms; default now')
    .option('--by <grouping[,grouping]>', `one grouping or two, at most one a time: ${USAGE_ROLLUP_GROUPINGS.join(', ')} (default key)`)
    .option('--key <key>', 'only the usage of this key (name or id)')
    .option('--account <account>', 'only the usage of this account (name or id)')
    .addOption(
      new Option('--format <format>', 'output: an aligned table, the JSON or the CSV of the admin API (default table)')
        .choices(USAGE_FORMATS)
        .conflicts('json'),
    )
    .action(async (flags: UsageFlags) => {
      // Parsed before any data is opened, with this machine's clock, so a relative time means the same locally and through a running instance.
      const query = parseUsageReportQuery({ since: flags.since, until: flags.until, by: flags.by, key: flags.key, account: flags.account }, Date.now());
      const report = await withControl(flags, (api) => api.usage.report(query));
      process.stdout.write(formatUsageOutput(report, flags.json ? 'json' : (flags.format ?? 'table')));
    });
}
