import { describe, expect, it } from 'vitest';
import { buildLimitMessage, FIELD_LIMITS, formatLimitRange, type FieldLimit } from '../../../src/config/field-limits.js';
import { SETTING_PARAMS } from '../../../src/store/settings-defaults.js';
import { buildRangeSpellings } from '../../support/limit-spellings.js';
import { parseTableRows, readRepoFile, readSection } from './markdown-table.js';

const README = readRepoFile('README.md');
const DOCS = ['README.md', 'docs/architecture.md', 'docs/accounts.md', 'docs/operations.md', 'docs/errors.md'];
const ENTRIES = Object.entries(FIELD_LIMITS) as Array<[string, FieldLimit]>;
const SETTING_NAMES = new Set<string>(Object.keys(SETTING_PARAMS));
/** The limits of runtime settings live in the Runtime settings table; every other one in the Limits table. */
const SETTING_LIMITS = ENTRIES.filter(([name]) => SETTING_NAMES.has(name));
const OTHER_LIMITS = ENTRIES.filter(([name]) => !SETTING_NAMES.has(name));

/** How the Limits table shows a default: the number, `null` (unlimited), or `—` (required). */
const showDefault = (limit: FieldLimit): string => (limit.default !== null ? String(limit.default) : limit.nullable ? '`null` (unlimited)' : '—');

/** One row of README's Limits table, exactly as it must read. */
const renderLimitRow = (limit: FieldLimit): string =>
  `| ${limit.fields.map((f) => `\`${f}\``).join(', ')} | ${limit.scope} | ${formatLimitRange(limit)} | ${showDefault(limit)} | ${limit.unit} | ${limit.description} |`;

/** The rows of the table that follows `marker` in `text` (header and separator left out). */
function readTableAfter(text: string, marker: string): string[] {
  const start = text.indexOf(marker);
  if (start < 0) return [];
  const lines = text
    .slice(start + marker.length)
    .split('\n')
    .map((l) => l.trim());
  const first = lines.findIndex((l) => l.startsWith('|'));
  const end = lines.findIndex((l, i) => i > first && !l.startsWith('|'));
  return lines.slice(first + 2, end < 0 ? undefined : end);
}

const configuration = readSection(README, 'Configuration');
const limitRows = readTableAfter(configuration, '<!-- field-limits-table -->');
const settingRows = parseTableRows(readTableAfter(configuration, '<!-- runtime-settings-table -->').join('\n'));

describe('README Limits table', () => {
  it('is FIELD_LIMITS (settings aside), row for row, in order', () => {
    expect(limitRows.join('\n')).toBe(OTHER_LIMITS.map(([, limit]) => renderLimitRow(limit)).join('\n'));
  });
});

describe('README Runtime settings table', () => {
  it.each(SETTING_LIMITS)('%s: its range cell shows the range, and its default cell the default', (name, limit) => {
    const [defaultCell = '', rangeCell = ''] = settingRows.get(SETTING_PARAMS[name as keyof typeof SETTING_PARAMS]) ?? [];
    expect(rangeCell).toContain(formatLimitRange(limit));
    if (limit.default !== null) expect(defaultCell).toMatch(new RegExp(`^${limit.default}\\b`));
  });
});

/**
 * Rows about other facts that happen to share a range with a limit (checked elsewhere or not a
 * limit an operator sets), by their first cell.
 */
const COINCIDENCES = ['`RESULT_URL_TTL_MS`', '`output_compression`'];

describe('no other line of the docs spells out a limit', () => {
  const tableLines = new Set([...limitRows, ...readTableAfter(configuration, '<!-- runtime-settings-table -->')]);
  const isCoincidence = (line: string) => COINCIDENCES.some((cell) => line.startsWith(`| ${cell} |`));
  /** An example message in docs/errors.md may quote a limit, as long as it is the code's message. */
  const quotesCodeMessage = (line: string) => ENTRIES.some(([, limit]) => limit.fields.some((field) => line.includes(buildLimitMessage(field, limit))));

  it.each(DOCS)('%s', (path) => {
    const hits = readRepoFile(path)
      .split('\n')
      .flatMap((line, i) => {
        if (tableLines.has(line.trim()) || quotesCodeMessage(line) || isCoincidence(line)) return [];
        const spelled = ENTRIES.filter(([, limit]) => limit.max !== Number.MAX_SAFE_INTEGER && buildRangeSpellings(limit).some((re) => re.test(line)));
        return spelled.map(([name]) => `${path}:${i + 1} (${name}): ${line.trim()}`);
      });
    expect(hits).toEqual([]);
  });

  it('docs/errors.md quotes the range message as the code builds it', () => {
    expect(readRepoFile('docs/errors.md')).toContain(buildLimitMessage('max_concurrency', FIELD_LIMITS.keyMaxConcurrency));
  });
});
