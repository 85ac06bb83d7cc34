import { describe, expect, it } from 'vitest';
import { formatErrorLine, formatFields, formatKeyDetails, formatRouting, formatTable } from '../../../src/cli/print.js';
import { GatewayError } from '../../../src/errors/codes.js';
import type { KeyRoutingInput, KeyView } from '../../../src/control/control-api.js';

describe('formatTable', () => {
  it('aligns columns two spaces apart and does not pad the last one', () => {
    expect(formatTable(['ID', 'NAME'], [['1', 'alpha'], ['22', 'b']])).toBe('ID  NAME\n1   alpha\n22  b');
  });
  it('prints only headers for no rows', () => expect(formatTable(['A', 'B'], [])).toBe('A  B'));
});

describe('formatFields', () => {
  it('aligns labels', () => expect(formatFields([['id', '1'], ['status', 'on']])).toBe('id      1\nstatus  on'));
});

describe('formatRouting', () => {
  it.each([
    [{ mode: 'all' }, 'all accounts'],
    [{ mode: 'accounts', accounts: ['a', 'b'] }, 'accounts: a, b'],
    [{ mode: 'group', group: 'g' }, 'group: g'],
  ] satisfies Array<[KeyRoutingInput, string]>)('%j', (routing, text) => expect(formatRouting(routing)).toBe(text));
});

describe('formatErrorLine', () => {
  it('is one line starting with error:', () => {
    expect(formatErrorLine(new GatewayError('not_found', 'key x not found'))).toBe('error: key x not found');
    expect(formatErrorLine(new Error('first\nsecond'))).toBe('error: first');
    expect(formatErrorLine('plain')).toBe('error: plain');
  });
});

describe('formatKeyDetails', () => {
  it('shows the prefix and limits, with null limits as unlimited', () => {
    const key: KeyView = {
      id: 'key_1', name: 'k', prefix: 'cig_ab12', status: 'active', imageEnabled: false, quotaTokens: null,
      maxConcurrency: 2, minStartIntervalMs: null, routing: { mode: 'all' },
      usage: { requests: 0, successes: 0, images: 0, inputTokens: 0, outputTokens: 0, totalTokens: 0, usageMissing: 0, lastUsedAt: null },
      createdAt: 0, updatedAt: 0,
    };
    const text = formatKeyDetails(key);
    expect(text).toMatch(/^prefix +cig_ab12…$/m);
    expect(text).toMatch(/^quota tokens +unlimited$/m);
    expect(text).toMatch(/^max concurrency +2$/m);
    expect(text).toMatch(/^image +off$/m);
  });
});
