import { describe, expect, it } from 'vitest';
import { ERRORS, type ErrorCode } from '../../../src/errors/codes.js';
import { parseTableRows, readRepoFile, readSection } from './markdown-table.js';

const ERRORS_DOC = readRepoFile('docs/errors.md');
const CODE_ROWS = parseTableRows(readSection(ERRORS_DOC, 'Codes'));
const CODES = Object.keys(ERRORS) as ErrorCode[];

describe('docs/errors.md documents every error code', () => {
  it.each(CODES)('%s has a row with its status and OpenAI type', (code) => {
    const cells = CODE_ROWS.get(code);
    expect(cells, `no row for ${code} in docs/errors.md`).toBeDefined();
    const [statusCell, typeCell, whenCell = ''] = cells ?? [];
    expect(statusCell).toBe(String(ERRORS[code].status));
    expect(typeCell).toBe(`\`${ERRORS[code].type}\``);
    expect(whenCell.length, `${code} needs a "when" text`).toBeGreaterThan(10);
  });

  it('lists no code that does not exist', () => {
    const stale = [...CODE_ROWS.keys()].filter((code) => !Object.hasOwn(ERRORS, code));
    expect(stale).toEqual([]);
  });

  it('lists the codes in the order of the table in src/errors/codes.ts', () => {
    expect([...CODE_ROWS.keys()]).toEqual(CODES);
  });
});
