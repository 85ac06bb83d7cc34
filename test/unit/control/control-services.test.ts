import { randomBytes } from 'node:crypto';
import { beforeAll, beforeEach, expect, it } from 'vitest';
import { hashApiKey } from '../../../src/control/api-key.js';
import type { ControlApi } from '../../../src/control/control-api.js';
import { createControlServices } from '../../../src/control/control-services.js';
import { createCredentialCipher } from '../../../src/control/credential-cipher.js';
import { watchControlChanges } from '../../../src/store/change-feed.js';
import { insertJob, markJobRunning } from '../../../src/store/job-repo.js';
import { loadSnapshot } from '../../../src/store/snapshot-loader.js';
import { migrate } from '../../../src/store/migrator.js';
import { SETTINGS_DEFAULTS } from '../../../src/store/settings-defaults.js';
import { applyUsageDeltas } from '../../../src/store/usage-repo.js';
import { upsertUsageRollups } from '../../../src/store/usage-rollup-repo.js';
import { UsageRollupAccumulator } from '../../../src/store/usage-rollups.js';
import { describeEachBackend } from '../../support/databases.js';
import { makeCodexAuthJson } from '../../support/jwt.js';
import { waitFor } from '../../support/wait-for.js';

const cipher = createCredentialCipher(randomBytes(32));
const TABLES_TO_CLEAR = ['api_keys', 'group_accounts', 'groups', 'accounts', 'settings'];

/** Runs `fn` and returns the GatewayError fields it threw. */
async function failure(fn: () => Promise<unknown>): Promise<{ code: string; message: string; param: string | null }> {
  try {
    await fn();
  } catch (err) {
    const { code, message, param } = err as { code: string; message: string; param: string | null };
    return { code, message, param };
  }
  throw new Error('expected a failure');
}

const MAX_CONCURRENCY = 'max_concurrency must be an integer between 1 and 1024';
const MIN_INTERVAL = 'min_start_interval_ms must be an integer between 0 and 300000';
const QUOTA = 'quota_tokens must be a non-negative integer';
const COST = 'quota_cost_usd must be null or US dollars in 0..1000000000 with at most 6 decimals';
const EXPIRES = 'expires_at must be null, milliseconds since the epoch or an ISO-8601 date-time with an offset (2027-01-31T00:00:00Z)';

/** Key create inputs that must fail: [label, input, message, param]. */
const KEY_REJECTIONS: Array<[string, unknown, string, string]> = [
  ['no name', {}, 'name is required', 'name'],
  ['blank name', { name: '   ' }, 'name is required', 'name'],
  ['name not a string', { name: 5 }, 'name is required', 'name'],
  ['129-character name', { name: 'n'.repeat(129) }, 'name must be at most 128 characters', 'name'],
  ['name with a newline', { name: 'a\nb' }, 'name must not contain control characters', 'name'],
  ['name shaped like an id', { name: 'key_0123abcd' }, 'name must not look like an id (key_…, acct_…, grp_…)', 'name'],
  ['unknown status', { name: 'k', status: 'enabled' }, 'status must be active or disabled', 'status'],
  ['image switch as text', { name: 'k', imageEnabled: 'true' }, 'image_enabled must be true or false', 'image_enabled'],
  ['negative quota', { name: 'k', quotaTokens: -1 }, QUOTA, 'quota_tokens'],
  ['fractional quota', { name: 'k', quotaTokens: 1.5 }, QUOTA, 'quota_tokens'],
  ['quota as text', { name: 'k', quotaTokens: '5' }, QUOTA, 'quota_tokens'],
  ['concurrency 0', { name: 'k', maxConcurrency: 0 }, MAX_CONCURRENCY, 'max_concurrency'],
  ['concurrency 1025', { name: 'k', maxConcurrency: 1025 }, MAX_CONCURRENCY, 'max_concurrency'],
  ['concurrency 2.5', { name: 'k', maxConcurrency: 2.5 }, MAX_CONCURRENCY, 'max_concurrency'],
  ['concurrency as text', { name: 'k', maxConcurrency: '2' }, MAX_CONCURRENCY, 'max_concurrency'],
  ['interval -1', { name: 'k', minStartIntervalMs: -1 }, MIN_INTERVAL, 'min_start_interval_ms'],
  ['interval 300001', { name: 'k', minStartIntervalMs: 300_001 }, MIN_INTERVAL, 'min_start_interval_ms'],
  ['routing as text', { name: 'k', routing: 'all' }, 'routing must be an object with a mode', 'routing'],
  ['unknown routing mode', { name: 'k', routing: { mode: 'some' } }, 'routing.mode must be all, accounts or group', 'routing.mode'],
  ['empty account list', { name: 'k', routing: { mode: 'accounts', accounts: [] } }, 'routing.accounts must list at least 1 account', 'routing.accounts'],
  [
    'account list not a list',
    { name: 'k', routing: { mode: 'accounts', accounts: 'one' } },
    'routing.accounts must be a list of account names or ids',
    'routing.accounts',
  ],
  ['unknown account', { name: 'k', routing: { mode: 'accounts', accounts: ['nobody'] } }, 'unknown account `nobody`', 'routing.accounts'],
  ['repeated account', { name: 'k', routing: { mode: 'accounts', accounts: ['one', 'one'] } }, 'routing.accounts lists `one` twice', 'routing.accounts'],
  ['group missing', { name: 'k', routing: { mode: 'group' } }, 'routing.group is required', 'routing.group'],
  ['unknown group', { name: 'k', routing: { mode: 'group', group: 'nogroup' } }, 'unknown group `nogroup`', 'routing.group'],
  ['unknown field', { name: 'k', colour: 'red' }, 'unknown field `colour`', 'colour'],
  ['not an object', 'k', 'request body must be a JSON object', 'body'],
  [
    'expiry already past (the clock is at 1000 ms)',
    { name: 'k', expiresAt: 1_000 },
    'expires_at must be in the future (it is 1970-01-01T00:00:01.000Z)',
    'expires_at',
  ],
  ['expiry as a date without a time', { name: 'k', expiresAt: '2027-01-31' }, EXPIRES, 'expires_at'],
  ['expiry without an offset', { name: 'k', expiresAt: '2027-01-31T00:00:00' }, EXPIRES, 'expires_at'],
  ['expiry as a fraction of a ms', { name: 'k', expiresAt: 5_000.5 }, EXPIRES, 'expires_at'],
  ['expiry as a boolean', { name: 'k', expiresAt: true }, EXPIRES, 'expires_at'],
  ['unknown quota period', { name: 'k', quotaPeriod: 'year' }, 'quota_period must be none, day, week or month', 'quota_period'],
  ['negative image quota', { name: 'k', quotaImages: -1 }, 'quota_images must be a non-negative integer', 'quota_images'],
  ['fractional image quota', { name: 'k', quotaImages: 2.5 }, 'quota_images must be a non-negative integer', 'quota_images'],
  ['cost quota as text', { name: 'k', quotaCostUsd: '5' }, COST, 'quota_cost_usd'],
  ['negative cost quota', { name: 'k', quotaCostUsd: -0.01 }, COST, 'quota_cost_usd'],
  ['cost quota past a billion dollars', { name: 'k', quotaCostUsd: 1_000_000_000.01 }, COST, 'quota_cost_usd'],
  ['cost quota finer than a millionth', { name: 'k', quotaCostUsd: 0.0000001 }, COST, 'quota_cost_usd'],
  ['expiry past the year 9999', { name: 'k', expiresAt: 253_402_300_800_000 }, EXPIRES, 'expires_at'],
];

/** Key create inputs just inside each bound: they must pass. */
const KEY_ACCEPTS: Array<[string, Record<string, unknown>]> = [
  ['128-character name', { name: 'n'.repeat(128) }],
  ['concurrency 1 and interval 0', { maxConcurrency: 1, minStartIntervalMs: 0 }],
  ['concurrency 1024 and interval 300000', { maxConcurrency: 1024, minStartIntervalMs: 300_000 }],
  ['zero quota', { quotaTokens: 0 }],
  ['every limit null', { quotaTokens: null, maxConcurrency: null, minStartIntervalMs: null }],
  ['undefined fields are absent', { status: undefined, colour: undefined }],
  ['name that merely starts like an id', { name: 'key_not-hex' }],
  ['expiry in ms, 1 ms ahead', { expiresAt: 1_001 }],
  ['expiry as an ISO-8601 date-time with an offset', { expiresAt: '2027-01-31T00:00:00+02:00' }],
  ['no expiry', { expiresAt: null }],
  ['a monthly budget in images, tokens and dollars', { quotaPeriod: 'month', quotaImages: 500, quotaTokens: 10_000_000, quotaCostUsd: 49.99 }],
  ['a cost quota of a millionth of a dollar', { quotaCostUsd: 0.000001 }],
];

const SETTINGS_VERSION = "codex_client_version must be 1 to 64 characters of letters, digits, '.', '_' or '-'";
const SETTINGS_REJECTIONS: Array<[string, unknown, string, string]> = [
  ['empty version', { codexClientVersion: '' }, SETTINGS_VERSION, 'codex_client_version'],
  ['version with a space', { codexClientVersion: '1.0 beta' }, SETTINGS_VERSION, 'codex_client_version'],
  ['65-character version', { codexClientVersion: '1'.repeat(65) }, SETTINGS_VERSION, 'codex_client_version'],
  ['version as a number', { codexClientVersion: 1 }, SETTINGS_VERSION, 'codex_client_version'],
  ['version with a header break', { codexClientVersion: '1.0\r\nX: y' }, SETTINGS_VERSION, 'codex_client_version'],
  ['log file bytes too small', { logMaxFileBytes: 1023 }, 'log_max_file_bytes must be an integer between 1024 and 17179869184', 'log_max_file_bytes'],
  ['log files 0', { logMaxFiles: 0 }, 'log_max_files must be an integer between 1 and 100000', 'log_max_files'],
  ['log files as text', { logMaxFiles: '3' }, 'log_max_files must be an integer between 1 and 100000', 'log_max_files'],
  ['log age fractional', { logMaxFileAgeMs: 1500.5 }, 'log_max_file_age_ms must be an integer between 1000 and 604800000', 'log_max_file_age_ms'],
  [
    'CORS origin with a path',
    { corsAllowedOrigins: ['https://app.example.com/app'] },
    "cors_allowed_origins[0] must be an origin: http(s)://host[:port], no path (for example https://app.example.com), or '*' alone",
    'cors_allowed_origins',
  ],
  ['unknown setting', { colour: 'red' }, 'unknown field `colour`', 'colour'],
];

describeEachBackend('control services', ({ database }) => {
  let control: ControlApi;
  let clock = 1_000;

  beforeAll(async () => {
    await migrate(database().db);
    control = createControlServices({ db: database().db, cipher, now: () => clock });
  });
  beforeEach(async () => {
    for (const table of TABLES_TO_CLEAR) await database().db.query(`DELETE FROM ${table}`);
    clock = 1_000;
    await control.accounts.import({ auth: makeCodexAuthJson({ accountId: 'one' }), name: 'one' });
    await control.accounts.import({ auth: makeCodexAuthJson({ accountId: 'two' }), name: 'two' });
  });

  it.each(KEY_REJECTIONS)('keys.create rejects %s', async (_label, input, message, param) => {
    expect(await failure(() => control.keys.create(input as never))).toEqual({ code: 'invalid_request', message, param });
    expect(await control.keys.list()).toEqual([]);
  });

  it.each(KEY_ACCEPTS)('keys.create accepts %s', async (_label, input) => {
    const created = await control.keys.create({ name: 'k', ...input } as never);
    expect(created.key.name).toBe((input.name as string | undefined) ?? 'k');
  });

  it('keys.create and keys.update set, show and clear an expiry (an ISO date-time is stored as ms)', async () => {
    const { key } = await control.keys.create({ name: 'k', expiresAt: '2027-01-31T00:00:00Z' });
    expect(key.expiresAt).toBe(Date.UTC(2027, 0, 31));
    expect((await control.keys.update('k', { expiresAt: 5_000 })).expiresAt).toBe(5_000);
    expect((await control.keys.update('k', { maxConcurrency: 2 })).expiresAt).toBe(5_000);
    expect((await control.keys.update('k', { expiresAt: null })).expiresAt).toBeNull();
  });

  it('keys.rotate: a new secret; the old one stays in the snapshot only for its grace period, and without one it is gone at once', async () => {
    const { key, secret: first } = await control.keys.create({ name: 'k' });
    clock = 10_000;
    const rotated = await control.keys.rotate('k', { graceMs: 60_000 });
    expect(rotated.secret).toMatch(/^cig_[0-9A-Za-z]{43}$/);
    expect(rotated.secret).not.toBe(first);
    expect(rotated.key).toMatchObject({ id: key.id, prefix: rotated.secret.slice(0, key.prefix.length), previousSecretExpiresAt: 70_000, updatedAt: 10_000 });
    const during = await loadSnapshot(database().db, cipher, () => 69_999);
    expect(during.keysByHash.get(hashApiKey(first))?.id).toBe(key.id);
    expect(during.keysByHash.get(hashApiKey(rotated.secret))?.id).toBe(key.id);
    const after = await loadSnapshot(database().db, cipher, () => 70_000);
    expect(after.keysByHash.has(hashApiKey(first))).toBe(false);

    // A second rotation without grace drops both older secrets.
    const again = await control.keys.rotate(key.id, {});
    expect(again.key.previousSecretExpiresAt).toBeNull();
    const now = await loadSnapshot(database().db, cipher, () => 10_001);
    expect([...now.keysByHash.keys()]).toEqual([hashApiKey(again.secret)]);
    const [row] = await database().db.query<{ key_hash: string; previous_key_hash: string | null }>('SELECT key_hash, previous_key_hash FROM api_keys');
    expect(row).toEqual({ key_hash: hashApiKey(again.secret), previous_key_hash: null });
  });

  it('keys.rotate refuses a grace period out of range, an unknown field and an unknown key, changing nothing', async () => {
    const { key } = await control.keys.create({ name: 'k' });
    expect(await failure(() => control.keys.rotate('k', { graceMs: 604_800_001 }))).toEqual({
      code: 'invalid_request',
      message: 'grace_ms must be an integer between 0 and 604800000',
      param: 'grace_ms',
    });
    expect(await failure(() => control.keys.rotate('k', { grace: 1 } as never))).toMatchObject({ message: 'unknown field `grace`' });
    expect(await failure(() => control.keys.rotate('nobody', {}))).toMatchObject({ code: 'not_found' });
    expect(await control.keys.get('k')).toEqual(key);
  });

  it('keys.update validates the same way and changes nothing on failure', async () => {
    const { key } = await control.keys.create({ name: 'k', maxConcurrency: 4 });
    expect(await failure(() => control.keys.update('k', { maxConcurrency: 0 }))).toEqual({
      code: 'invalid_request',
      message: MAX_CONCURRENCY,
      param: 'max_concurrency',
    });
    expect(await failure(() => control.keys.update('k', { name: '' }))).toMatchObject({ message: 'name is required' });
    expect(await control.keys.get(key.id)).toEqual(key);
  });

  it('creates a key: the secret is returned once, the view holds neither it nor its hash', async () => {
    clock = 2_000;
    const { key, secret } = await control.keys.create({ name: 'k', quotaTokens: 500, routing: { mode: 'accounts', accounts: ['two', 'one'] } });
    expect(secret).toMatch(/^cig_[0-9A-Za-z]{43}$/);
    expect(key).toEqual({
      id: expect.stringMatching(/^key_[0-9a-f]{24}$/),
      name: 'k',
      prefix: secret.slice(0, 12),
      status: 'active',
      imageEnabled: true,
      quotaTokens: 500,
      maxConcurrency: null,
      minStartIntervalMs: null,
      routing: { mode: 'accounts', accounts: ['two', 'one'] },
      usage: {
        requests: 0,
        successes: 0,
        images: 0,
        inputTokens: 0,
        outputTokens: 0,
        totalTokens: 0,
        usageMissing: 0,
        estimatedCostMicros: 0,
        lastUsedAt: null,
      },
      expiresAt: null,
      previousSecretExpiresAt: null,
      quotaPeriod: 'none',
      quotaImages: null,
      quotaCostUsd: null,
      periodUsage: { startsAt: 0, endsAt: null, images: 0, tokens: 0, estimatedCostUsd: 0 },
      usageResetAt: null,
      createdAt: 2_000,
      updatedAt: 2_000,
    });
    const shown = JSON.stringify(await control.keys.list());
    expect(shown).not.toContain(secret);
    expect(shown).not.toContain(secret.slice(12));
    expect(shown).not.toContain(hashApiKey(secret));
  });

  it('keys carry a budget: period, image and dollar limits; the view shows the period and its usage; a reset starts it from zero and is audited', async () => {
    clock = Date.UTC(2026, 10, 30, 12);
    const { key } = await control.keys.create({ name: 'budget', quotaPeriod: 'day', quotaImages: 3, quotaCostUsd: 1.5 });
    expect(key).toMatchObject({
      quotaPeriod: 'day',
      quotaImages: 3,
      quotaCostUsd: 1.5,
      periodUsage: { startsAt: Date.UTC(2026, 10, 30), endsAt: Date.UTC(2026, 11, 1), images: 0, tokens: 0, estimatedCostUsd: 0 },
      usageResetAt: null,
    });
    const hour = Date.UTC(2026, 10, 30, 9);
    const rows = new UsageRollupAccumulator();
    for (const at of [hour, hour - 86_400_000]) {
      rows.add(
        {
          keyId: key.id,
          requests: 1,
          successes: 1,
          images: 2,
          inputTokens: 5,
          outputTokens: 20,
          totalTokens: 25,
          usageMissing: 0,
          estimatedCostMicros: 250_000,
          lastUsedAt: at,
        },
        {
          hourStart: at,
          accountId: null,
          model: 'gpt-image-1',
          endpoint: 'generations',
          failureClass: null,
          upstreamBytes: 0,
          latencyMs: 10,
          unpriced: false,
          imageInputTokens: 0,
        },
      );
    }
    await upsertUsageRollups(database().db, rows.rows());
    // Only today's hour counts towards the day budget.
    expect((await control.keys.get('budget')).periodUsage).toMatchObject({ images: 2, tokens: 25, estimatedCostUsd: 0.25 });

    const lines: Array<{ fields: object; message: string }> = [];
    const audited = createControlServices({
      db: database().db,
      cipher,
      now: () => clock,
      audit: { info: (fields, message) => void lines.push({ fields, message }) },
    });
    clock += 60_000;
    const reset = await audited.keys.resetUsage('budget');
    expect(reset).toMatchObject({ usageResetAt: clock, periodUsage: { images: 0, tokens: 0, estimatedCostUsd: 0 } });
    expect(lines).toEqual([
      {
        message: 'key usage reset',
        fields: { keyId: key.id, keyName: 'budget', quotaPeriod: 'day', images: 2, tokens: 25, costMicros: 250_000, resetAt: clock },
      },
    ]);
    // The next day counts from nothing, with or without the reset.
    clock = Date.UTC(2026, 11, 1, 1);
    expect((await control.keys.get('budget')).periodUsage).toMatchObject({ startsAt: Date.UTC(2026, 11, 1), images: 0 });
    // A new period kind drops the reset (its baseline belonged to the old one).
    clock = Date.UTC(2026, 10, 30, 13);
    const monthly = await control.keys.update('budget', { quotaPeriod: 'month' });
    expect(monthly).toMatchObject({ usageResetAt: null, periodUsage: { startsAt: Date.UTC(2026, 10, 1), images: 4, estimatedCostUsd: 0.5 } });
    await expect(control.keys.resetUsage('nobody')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('finds keys by id or name, and says "key not found" otherwise (never echoing the reference)', async () => {
    const { key, secret } = await control.keys.create({ name: 'k' });
    expect((await control.keys.get(key.id)).name).toBe('k');
    expect((await control.keys.get('k')).id).toBe(key.id);
    for (const ref of ['K', 'k ', secret, 'key_ffffffffffffffffffffffff']) {
      expect(await failure(() => control.keys.get(ref))).toEqual({ code: 'not_found', message: 'key not found', param: 'key' });
    }
    expect(await failure(() => control.keys.update('nope', { status: 'disabled' }))).toMatchObject({ code: 'not_found' });
    expect(await failure(() => control.keys.delete('nope'))).toMatchObject({ code: 'not_found' });
  });

  it('refuses a duplicate key name on create and rename', async () => {
    await control.keys.create({ name: 'k' });
    await control.keys.create({ name: 'other' });
    expect(await failure(() => control.keys.create({ name: 'k' }))).toEqual({ code: 'conflict', message: 'a key named `k` already exists', param: 'name' });
    expect(await failure(() => control.keys.update('other', { name: 'k' }))).toMatchObject({ code: 'conflict' });
    expect((await control.keys.list()).map((k) => k.name)).toEqual(['k', 'other']);
  });

  it('updates only the given fields and moves updatedAt', async () => {
    const { key } = await control.keys.create({ name: 'k', quotaTokens: 10, maxConcurrency: 3 });
    clock = 5_000;
    const updated = await control.keys.update('k', { status: 'disabled', quotaTokens: null, routing: { mode: 'accounts', accounts: ['one'] } });
    expect(updated).toEqual({ ...key, status: 'disabled', quotaTokens: null, routing: { mode: 'accounts', accounts: ['one'] }, updatedAt: 5_000 });
    expect((await control.keys.update('k', { routing: { mode: 'all' } })).routing).toEqual({ mode: 'all' });
  });

  it('shows routing by name after an account is renamed, and drops a deleted account', async () => {
    await control.keys.create({ name: 'k', routing: { mode: 'accounts', accounts: ['one', 'two'] } });
    await control.accounts.update('one', { name: 'uno' });
    expect((await control.keys.get('k')).routing).toEqual({ mode: 'accounts', accounts: ['uno', 'two'] });
    await control.accounts.delete('two');
    expect((await control.keys.get('k')).routing).toEqual({ mode: 'accounts', accounts: ['uno'] });
  });

  it('deletes a key with its usage', async () => {
    const { key } = await control.keys.create({ name: 'k' });
    await applyUsageDeltas(database().db, [
      {
        keyId: key.id,
        requests: 1,
        successes: 1,
        images: 1,
        inputTokens: 1,
        outputTokens: 1,
        totalTokens: 2,
        usageMissing: 0,
        estimatedCostMicros: 0,
        lastUsedAt: 7,
      },
    ]);
    await control.keys.delete('k');
    expect(await control.keys.list()).toEqual([]);
    expect(await database().db.query('SELECT * FROM key_usage')).toEqual([]);
  });

  it('lists keys with usage, and sums usage', async () => {
    const a = (await control.keys.create({ name: 'a' })).key;
    await control.keys.create({ name: 'b' });
    const delta = { requests: 2, successes: 1, images: 3, inputTokens: 4, outputTokens: 5, totalTokens: 9, usageMissing: 1, estimatedCostMicros: 42_000 };
    await applyUsageDeltas(database().db, [{ keyId: a.id, ...delta, lastUsedAt: 77 }]);
    const [listedA, listedB] = await control.keys.list();
    expect(listedA?.usage).toEqual({ ...delta, lastUsedAt: 77 });
    expect(listedB?.usage.requests).toBe(0);
    const summary = await control.usage.summary();
    expect(summary.totals).toEqual({ ...delta, lastUsedAt: 77 });
    expect(summary.keys.map((k) => [k.name, k.totalTokens, k.lastUsedAt])).toEqual([
      ['a', 9, 77],
      ['b', 0, null],
    ]);
  });

  it('manages groups: ordered accounts by name, validation, conflicts', async () => {
    clock = 3_000;
    const group = await control.groups.create({ name: 'g', accounts: ['two', 'one'] });
    expect(group).toEqual({ id: expect.stringMatching(/^grp_[0-9a-f]{24}$/), name: 'g', accounts: ['two', 'one'], createdAt: 3_000, updatedAt: 3_000 });
    expect((await control.groups.create({ name: 'empty' })).accounts).toEqual([]);
    expect(await failure(() => control.groups.create({ name: 'h', accounts: ['nobody'] }))).toEqual({
      code: 'invalid_request',
      message: 'unknown account `nobody`',
      param: 'accounts',
    });
    expect(await failure(() => control.groups.create({ name: 'g' }))).toEqual({ code: 'conflict', message: 'a group named `g` already exists', param: 'name' });
    expect(await failure(() => control.groups.create({ accounts: [] } as never))).toMatchObject({ message: 'name is required' });
    expect(await control.groups.update('g', { accounts: ['one'] })).toMatchObject({ accounts: ['one'] });
    expect(await control.groups.update(group.id, { name: 'renamed' })).toMatchObject({ name: 'renamed', accounts: ['one'] });
    expect(await failure(() => control.groups.get('g'))).toEqual({ code: 'not_found', message: 'group not found', param: 'group' });
    expect((await control.groups.list()).map((g) => g.name)).toEqual(['empty', 'renamed']);
  });

  it('refuses to delete a group a key routes to, naming the key; deletes it once unused', async () => {
    await control.groups.create({ name: 'g', accounts: ['one'] });
    await control.keys.create({ name: 'k', routing: { mode: 'group', group: 'g' } });
    expect((await control.keys.get('k')).routing).toEqual({ mode: 'group', group: 'g' });
    expect(await failure(() => control.groups.delete('g'))).toEqual({
      code: 'conflict',
      message: 'group `g` is used by key `k`; route those keys elsewhere first',
      param: 'group',
    });
    await control.keys.update('k', { routing: { mode: 'all' } });
    await control.groups.delete('g');
    expect(await control.groups.list()).toEqual([]);
  });

  it('reads settings as defaults, stores changes (trimmed), and validates', async () => {
    expect(await control.settings.get()).toEqual(SETTINGS_DEFAULTS);
    const updated = await control.settings.update({ codexClientVersion: ' 0.150.0-beta_1 ', logMaxFiles: 7 });
    expect(updated).toEqual({ ...SETTINGS_DEFAULTS, codexClientVersion: '0.150.0-beta_1', logMaxFiles: 7 });
    expect(await control.settings.get()).toEqual(updated);
    expect(await control.settings.update({ logMaxFileBytes: 1024 })).toMatchObject({ logMaxFileBytes: 1024, logMaxFiles: 7 });
    expect(await control.settings.update({ corsAllowedOrigins: ['https://App.example.com/'] })).toMatchObject({
      corsAllowedOrigins: ['https://app.example.com'],
      logMaxFiles: 7,
    });
  });

  it.each(SETTINGS_REJECTIONS)('settings.update rejects %s', async (_label, input, message, param) => {
    expect(await failure(() => control.settings.update(input as never))).toEqual({ code: 'invalid_request', message, param });
    expect(await control.settings.get()).toEqual(SETTINGS_DEFAULTS);
  });

  it('falls back to the default for a stored setting that no longer passes the checks', async () => {
    await database().db.query(
      `INSERT INTO settings (name, value, updated_at) VALUES ('logMaxFiles', '"many"', 1), ('codexClientVersion', '"bad value"', 1), ('corsAllowedOrigins', '["*", "https://a.example"]', 1)`,
    );
    expect(await control.settings.get()).toEqual(SETTINGS_DEFAULTS);
  });

  it('jobs: list with filters, show by a 12-character prefix, cancel an open job (same SQL on both backends)', async () => {
    const { key } = await control.keys.create({ name: 'jobs' });
    const db = database().db;
    const [a, b] = ['a1'.repeat(32), 'b2'.repeat(32)];
    await insertJob(db, { idHash: a, keyId: key.id, instanceId: 'inst_0123abcd', endpoint: 'generations', createdAt: 10 });
    await insertJob(db, { idHash: b, keyId: key.id, instanceId: 'inst_0123abcd', endpoint: 'edits', createdAt: 20 });
    await markJobRunning(db, b, 25);
    expect((await control.jobs.list()).map((j) => [j.id, j.status, j.keyName])).toEqual([
      [b, 'running', 'jobs'],
      [a, 'queued', 'jobs'],
    ]);
    expect((await control.jobs.list({ key: key.id, status: 'queued', limit: 1 })).map((j) => j.id)).toEqual([a]);
    expect(await control.jobs.show(a.slice(0, 12).toUpperCase())).toMatchObject({ id: a, endpoint: 'generations', startedAt: null });
    expect(await control.jobs.cancel(b)).toMatchObject({ id: b, status: 'running', cancelRequested: true });
    expect(await failure(() => control.jobs.show('c3'.repeat(6)))).toEqual({ code: 'not_found', message: 'job not found', param: 'job' });
    expect(await failure(() => control.jobs.list({ limit: 0 }))).toEqual({
      code: 'invalid_request',
      message: 'limit must be an integer between 1 and 500',
      param: 'limit',
    });
  });

  it('announces every committed write, and nothing for a rejected one', async () => {
    const seen: string[] = [];
    const stop = await watchControlChanges(database().db, (p) => seen.push(p));
    try {
      await failure(() => control.keys.create({ name: 'k', routing: { mode: 'accounts', accounts: ['nobody'] } }));
      await control.keys.create({ name: 'k' });
      await control.keys.update('k', { status: 'disabled' });
      await control.groups.create({ name: 'g' });
      await control.settings.update({ logMaxFiles: 3 });
      await control.accounts.update('one', { imageEnabled: false });
      await control.keys.delete('k');
      await waitFor('six notifications', () => seen.length >= 6);
      expect(seen).toEqual(['keys', 'keys', 'groups', 'settings', 'accounts', 'keys']);
    } finally {
      await stop();
    }
  });
});
