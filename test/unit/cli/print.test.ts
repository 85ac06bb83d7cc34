import { describe, expect, it } from 'vitest';
import {
  formatErrorLine,
  formatFields,
  formatImportedAccount,
  formatJobCancel,
  formatJobDetails,
  formatJobTable,
  formatKeyDetails,
  formatRouting,
  formatTable,
} from '../../../src/cli/print.js';
import { GatewayError } from '../../../src/errors/codes.js';
import type { AccountImportResult, JobView, KeyRoutingInput, KeyView } from '../../../src/control/control-api.js';

describe('formatTable', () => {
  it('aligns columns two spaces apart and does not pad the last one', () => {
    expect(
      formatTable(
        ['ID', 'NAME'],
        [
          ['1', 'alpha'],
          ['22', 'b'],
        ],
      ),
    ).toBe('ID  NAME\n1   alpha\n22  b');
  });
  it('prints only headers for no rows', () => expect(formatTable(['A', 'B'], [])).toBe('A  B'));
  it('pads the columns listed in alignRight on the left, header too, the last one included', () => {
    const rows = [
      ['a', '5', '$0.04'],
      ['bb', '120', '$12.50'],
    ];
    expect(formatTable(['NAME', 'N', 'COST'], rows, { alignRight: [1, 2] })).toBe('NAME    N    COST\na       5   $0.04\nbb    120  $12.50');
  });
});

describe('formatFields', () => {
  it('aligns labels', () =>
    expect(
      formatFields([
        ['id', '1'],
        ['status', 'on'],
      ]),
    ).toBe('id      1\nstatus  on'));
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
      id: 'key_1',
      name: 'k',
      prefix: 'cig_ab12',
      status: 'active',
      imageEnabled: false,
      quotaTokens: null,
      maxConcurrency: 2,
      minStartIntervalMs: null,
      routing: { mode: 'all' },
      usage: {
        requests: 0,
        successes: 0,
        images: 0,
        inputTokens: 0,
        outputTokens: 0,
        totalTokens: 0,
        usageMissing: 0,
        estimatedCostMicros: 167_000,
        lastUsedAt: null,
      },
      expiresAt: null,
      previousSecretExpiresAt: null,
      quotaPeriod: 'none',
      quotaImages: null,
      quotaCostUsd: null,
      periodUsage: { startsAt: 0, endsAt: null, images: 0, tokens: 0, estimatedCostUsd: 0 },
      usageResetAt: null,
      createdAt: 0,
      updatedAt: 0,
    };
    const text = formatKeyDetails(key);
    expect(text).toMatch(/^prefix +cig_ab12…$/m);
    expect(text).toMatch(/^quota tokens +unlimited$/m);
    expect(text).toMatch(/^max concurrency +2$/m);
    expect(text).toMatch(/^image +off$/m);
    expect(text).toMatch(/^estimated cost +\$0\.167 \(estimate, by the price table\)$/m);
  });
});

describe('job output', () => {
  const JOB: JobView = {
    id: '0123456789abcdef'.repeat(4),
    keyId: 'key_1',
    keyName: 'team',
    endpoint: 'generations',
    status: 'running',
    cancelRequested: false,
    errorCode: null,
    httpStatus: null,
    instanceId: 'inst_0123abcd',
    createdAt: Date.UTC(2026, 0, 1),
    startedAt: Date.UTC(2026, 0, 1) + 2_500,
    finishedAt: null,
    expiresAt: null,
  };

  it('the table shows the 12-character short id, queue and run times', () => {
    const [head, row] = formatJobTable([JOB]).split('\n');
    expect(head).toMatch(/^ID +KEY +ENDPOINT +STATUS +ERROR +HTTP +CREATED +QUEUED +RAN$/);
    expect(row).toMatch(/^0123456789ab +team +generations +running +- +- +2026-01-01T00:00:00.000Z +2.5s +-$/);
  });

  it('marks an open job whose cancel is pending, and a job of a deleted key', () => {
    expect(formatJobTable([{ ...JOB, cancelRequested: true }])).toContain('running (cancel requested)');
    expect(formatJobDetails({ ...JOB, keyName: null })).toMatch(/^key +\(deleted\) \(key_1\)$/m);
  });

  it('cancel says whether it was asked for or the job had ended', () => {
    expect(formatJobCancel(JOB)).toBe('cancel requested for job 0123456789ab (running); its instance stops it within a few seconds');
    expect(formatJobCancel({ ...JOB, status: 'succeeded' })).toBe('job 0123456789ab already ended (succeeded); nothing to cancel');
  });
});

describe('formatImportedAccount', () => {
  const result = (over: Partial<AccountImportResult>): AccountImportResult => ({
    id: 'acct_1',
    name: 'ann@example.com',
    status: 'active',
    imageEnabled: false,
    imageConcurrency: 3,
    proxy: null,
    planType: 'plus',
    email: 'ann@example.com',
    chatgptAccountId: 'c',
    accessTokenExpiresAt: Date.UTC(2030, 0, 1),
    hasRefreshToken: true,
    lastRefreshAt: null,
    lastError: null,
    needsReimport: false,
    createdAt: 1,
    updatedAt: 1,
    outcome: 'created',
    changed: [],
    ...over,
  });

  it('says imported for a new account and updated, with what changed, for an existing one', () => {
    expect(formatImportedAccount(result({}))).toBe('imported account ann@example.com (plus, token expires 2030-01-01T00:00:00.000Z, image off)');
    expect(formatImportedAccount(result({ outcome: 'updated', changed: ['tokens', 'expiry'] }))).toBe(
      'updated account ann@example.com (changed: tokens, expiry; plus, token expires 2030-01-01T00:00:00.000Z, image off)',
    );
    expect(formatImportedAccount(result({ outcome: 'updated' }))).toMatch(/^updated account ann@example\.com \(changed: nothing; /);
  });
});
