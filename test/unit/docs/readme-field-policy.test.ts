import { describe, expect, it } from 'vitest';
import { FIELD_POLICY, POLICY_FIELDS, REQUEST_FORMS, type FieldRule } from '../../../src/images/field-policy.js';
import { parseTableRows, readRepoFile, readSection } from './markdown-table.js';

/** How README's Compatibility table writes each action. */
const ACTION_WORDS = {
  forward: 'forward',
  map: 'map',
  alias: 'alias',
  answer: 'answer',
  fanout: 'fan-out',
  drop: 'drop',
  absent: '—',
} as const satisfies Record<FieldRule['action'], string>;

describe('README Compatibility table', () => {
  const section = readSection(readRepoFile('README.md'), 'Compatibility');
  const table = section.slice(section.indexOf('<!-- field-policy-table -->'));
  const rows = parseTableRows(table.slice(0, table.indexOf('\n\n', table.indexOf('|'))));

  it('lists every FIELD_POLICY row, in order, and nothing else', () => {
    expect([...rows.keys()]).toEqual(POLICY_FIELDS);
  });

  it.each(POLICY_FIELDS)('%s: the action on each form matches the code', (field) => {
    const expected = REQUEST_FORMS.map((form) => ACTION_WORDS[(FIELD_POLICY[field].forms[form] as FieldRule).action]);
    expect(rows.get(field)?.slice(0, 3)).toEqual(expected);
  });
});
