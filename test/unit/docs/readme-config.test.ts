import { describe, expect, it } from 'vitest';
import { CONFIG_FIELDS, type ConfigField } from '../../../src/config/fields.js';
import { parseTableRows, readRepoFile, readSection } from './markdown-table.js';

const README = readRepoFile('README.md');
const CONFIG_ROWS = parseTableRows(readSection(README, 'Configuration'));
const FIELDS: ConfigField[] = Object.values(CONFIG_FIELDS);

/** True when the cell shows the field's default the way the table writes it; null defaults show `—`. */
function showsDefault(cell: string, field: ConfigField): boolean {
  const value = field.default;
  if (value === null) return cell === '—';
  if (typeof value === 'number') return new RegExp(`(^|[^0-9])${value}([^0-9]|$)`).test(cell);
  if (Array.isArray(value)) return value.length === 0 ? /^(—|\(empty\))$/.test(cell.trim()) : cell.includes(`\`${value.join(',')}\``);
  return cell.includes(`\`${String(value)}\``);
}

/** How the table's last cell ends for a field's bounds: `; 1..16`, `; ≥ 100 ms`; null when the field has none. */
function describeBounds(field: ConfigField): RegExp | null {
  if (field.min === undefined && field.max === undefined) return null;
  const range = field.max === undefined ? `≥ ${field.min}` : `${field.min ?? 0}\\.\\.${field.max}`;
  return new RegExp(`; ${range}( [a-z]+)?$`);
}

describe('README.md documents every configuration setting', () => {
  it.each(FIELDS.map((f) => [f.env, f] as const))('%s appears in README.md, with its flag if it has one', (env, field) => {
    expect(README).toContain(env);
    if (field.flag !== undefined) expect(README).toContain(field.flag);
  });

  it.each(FIELDS.map((f) => [f.env, f] as const))('%s has a Configuration row with its flag and default', (env, field) => {
    const cells = CONFIG_ROWS.get(env);
    expect(cells, `no row for ${env} in the Configuration table`).toBeDefined();
    const [flagCell = '', defaultCell = ''] = cells ?? [];
    expect(flagCell).toBe(field.flag === undefined ? '—' : `\`${field.flag}\``);
    expect(showsDefault(defaultCell, field), `${env}: default cell "${defaultCell}"`).toBe(true);
  });

  it.each(FIELDS.map((f) => [f.env, f] as const))('%s: its row ends with its bounds (min/max in CONFIG_FIELDS), if it has any', (env, field) => {
    const bounds = describeBounds(field);
    const last = CONFIG_ROWS.get(env)?.at(-1) ?? '';
    if (bounds === null) expect(last, `${env} has no bounds, yet its row shows some`).not.toMatch(/; (≥ \d+|\d+\.\.\d+)( [a-z]+)?$/);
    else expect(last).toMatch(bounds);
  });

  it('the Configuration table has no row for a setting that does not exist', () => {
    const known = new Set(FIELDS.map((f) => f.env));
    const stale = [...CONFIG_ROWS.keys()].filter((env) => /^[A-Z][A-Z0-9_]+$/.test(env) && !known.has(env));
    expect(stale).toEqual([]);
  });

  it.each<[string, ConfigField, string, boolean]>([
    ['a number inside a larger one', { env: 'X_BYTES', kind: 'int', default: 1024, doc: '' }, '10240 bytes', false],
    ['a number', { env: 'X_BYTES', kind: 'int', default: 1024, doc: '' }, '1024 bytes (1 KiB)', true],
    ['a string without backquotes', { env: 'X', kind: 'string', default: './data', doc: '' }, './data', false],
    ['a list', { env: 'X', kind: 'list', default: ['a', 'b'], doc: '' }, '`a,b`', true],
    ['an empty list', { env: 'X', kind: 'list', default: [], doc: '' }, '(empty)', true],
    ['an empty list shown as a value', { env: 'X', kind: 'list', default: [], doc: '' }, '`a`', false],
    ['a null default', { env: 'X', kind: 'string', default: null, doc: '' }, '`./x`', false],
  ])('the default check rejects near misses: %s', (_name, field, cell, expected) => {
    expect(showsDefault(cell, field)).toBe(expected);
  });
});
