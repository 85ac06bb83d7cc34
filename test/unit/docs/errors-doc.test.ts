import { describe, expect, it } from 'vitest';
import { ERRORS, type ErrorCode } from '../../../src/errors/codes.js';
import { parseTableRows, readRepoFile, readSection } from './markdown-table.js';

const ERRORS_DOC = readRepoFile('docs/errors.md');
const CODE_ROWS = parseTableRows(readSection(ERRORS_DOC, 'Codes'));
const RETRY_ROWS = parseTableRows(readSection(ERRORS_DOC, 'Retry'));
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

describe("docs/errors.md retry table matches each code's retry policy", () => {
  it.each(CODES)('%s has a retry row that says what its policy sends', (code) => {
    const cells = RETRY_ROWS.get(code);
    expect(cells, `no retry row for ${code} in docs/errors.md`).toBeDefined();
    const [statusCell, typeCell, retryCell, sourceCell = '', shouldRetryCell] = cells ?? [];
    const { status, type, retry } = ERRORS[code];
    expect(statusCell).toBe(String(status));
    expect(typeCell).toBe(`\`${type}\``);
    expect(retryCell).toBe(`\`${retry}\``);
    expect(shouldRetryCell).toBe(retry === 'never' ? '`false`' : '—');
    if (retry === 'never') expect(sourceCell.startsWith('—'), `${code} sends no retry-after`).toBe(true);
    if (retry === 'after') expect(sourceCell.startsWith('—') || sourceCell.startsWith('none'), `${code} must say where its wait comes from`).toBe(false);
    if (retry === 'backoff') expect(sourceCell.startsWith('none'), `${code} sends no wait of its own`).toBe(true);
  });

  it('lists the codes in the order of the table in src/errors/codes.ts', () => {
    expect([...RETRY_ROWS.keys()]).toEqual(CODES);
  });
});
