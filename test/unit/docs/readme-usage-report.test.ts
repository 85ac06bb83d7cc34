import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../../src/cli/program.js';
import { USAGE_FORMATS } from '../../../src/cli/usage-commands.js';
import { listUsageReportCsvColumns } from '../../../src/control/usage-report.js';
import { USAGE_ROLLUP_GROUPINGS } from '../../../src/store/usage-rollup-repo.js';
import { readRepoFile, readSection } from './markdown-table.js';

const README = readRepoFile('README.md');

/** README's Usage reports paragraph: from its anchor to the next one. */
function readUsageReports(): string {
  const start = README.indexOf('<a id="usage-reports"></a>');
  return start < 0 ? '' : README.slice(start, README.indexOf('<a id=', start + 1));
}

describe('README documents the usage report as built', () => {
  it('Usage reports names every CSV column, in order, and every grouping', () => {
    const text = readUsageReports();
    const csv = text.slice(text.indexOf('CSV ('));
    const columns = listUsageReportCsvColumns(USAGE_ROLLUP_GROUPINGS);
    const positions = columns.map((column) => csv.indexOf(`\`${column}\``));
    for (const [i, column] of columns.entries()) expect(positions[i], column).toBeGreaterThan(-1);
    expect(positions, 'columns in CSV order').toEqual([...positions].sort((a, b) => a - b));
    for (const grouping of USAGE_ROLLUP_GROUPINGS) expect(text).toContain(`\`${grouping}\``);
  });

  it("the Command line table's usage row names every flag of the command and every format", () => {
    // The raw line: the flags cell holds escaped pipes (`table\|json\|csv`), which parseTableRows splits on.
    const row = readSection(README, 'Command line')
      .split('\n')
      .find((line) => line.startsWith('| `usage` |'));
    expect(row).toBeDefined();
    const usage = buildProgram().commands.find((c) => c.name() === 'usage');
    const shared = new Set(['--data-dir', '--database-url', '--master-key-file', '--json']);
    const own = (usage?.options ?? []).map((o) => o.long ?? '').filter((flag) => !shared.has(flag));
    expect(own.length).toBeGreaterThan(0);
    for (const flag of own) expect(row, flag).toContain(`\`${flag} `);
    expect(row).toContain(USAGE_FORMATS.join('\\|'));
  });
});
