import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { listUsageReportCsvColumns } from '../../src/control/usage-report.js';
import { makeCodexAuthJson } from '../support/jwt.js';
import { expectOneLineError, runCli, type CliResult } from '../support/cli-process.js';

/** Where the scenario runs: the flags that pick the backend, and a scratch directory for files. */
export interface ScenarioTarget {
  flags: () => string[];
  scratchDir: () => string;
}

const STEP_TIMEOUT_MS = 60_000;

/**
 * Registers, in order, the `it`s of one CLI session against one backend: keys, accounts, groups, models,
 * `--json` and table output, error lines, and a final check that no secret or token reached any
 * output but the one create line that prints it. The same session runs embedded and on Postgres.
 */
export function defineControlScenario(target: ScenarioTarget): void {
  const outputs: Array<{ label: string; text: string }> = [];
  const secrets: string[] = [];
  const auth = makeCodexAuthJson({ accountId: 'acct-e2e', email: 'alpha@example.com', planType: 'plus' });
  const flatTokens = makeCodexAuthJson({ accountId: 'acct-flat' }).tokens;
  const flatAuth = { access_token: flatTokens.access_token, refresh_token: flatTokens.refresh_token, account_id: 'acct-flat' };
  // The same identity signed in again: new refresh token, so a re-import reports `tokens` changed.
  const flatAgain = { ...flatAuth, refresh_token: `${flatAuth.refresh_token}-rotated` };
  const tokens = [
    auth.tokens.access_token,
    auth.tokens.refresh_token,
    auth.tokens.id_token,
    flatAuth.access_token,
    flatAuth.refresh_token,
    flatAgain.refresh_token,
  ];

  async function cli(args: string[], input?: string): Promise<CliResult> {
    const result = await runCli([...args, ...target.flags()], { input });
    outputs.push({ label: args.join(' '), text: `${result.stdout}\n${result.stderr}` });
    return result;
  }
  async function ok(args: string[], input?: string): Promise<CliResult> {
    const result = await cli(args, input);
    expect(result.code, `${args.join(' ')}\n${result.stderr}`).toBe(0);
    return result;
  }
  const json = async <T>(args: string[], input?: string): Promise<T> => JSON.parse((await ok([...args, '--json'], input)).stdout) as T;
  async function fails(args: string[], message: string): Promise<void> {
    expectOneLineError(await cli(args), message);
  }

  it('keys create --json prints exactly {id, name, secret}', { timeout: STEP_TIMEOUT_MS }, async () => {
    const result = await ok(['keys', 'create', '--name', 'alpha', '--max-concurrency', '4', '--min-interval-ms', '250', '--json']);
    const created = JSON.parse(result.stdout) as Record<string, string>;
    expect(Object.keys(created).sort()).toEqual(['id', 'name', 'secret']);
    expect(created).toMatchObject({ name: 'alpha', secret: expect.stringMatching(/^cig_/) });
    secrets.push(created.secret ?? '');
    outputs.pop(); // the one output allowed to hold this secret
  });

  it('accounts import FILE --json, and import from stdin with options', { timeout: STEP_TIMEOUT_MS * 2 }, async () => {
    const file = join(target.scratchDir(), 'auth.json');
    await writeFile(file, JSON.stringify(auth));
    const imported = await json<Record<string, unknown>>(['accounts', 'import', file]);
    expect(Object.keys(imported).sort()).toEqual(['access_token_expires_at', 'account_id', 'changed', 'name', 'outcome', 'plan_type']);
    expect(imported).toMatchObject({ name: 'alpha@example.com', account_id: 'acct-e2e', plan_type: 'plus', outcome: 'created', changed: [] });
    expect(imported.access_token_expires_at).toBeGreaterThan(Date.now());
    const second = await json<Record<string, unknown>>(
      ['accounts', 'import', '-', '--name', 'second', '--image', 'off', '--image-concurrency', '2'],
      JSON.stringify(flatAuth),
    );
    expect(second).toMatchObject({ name: 'second', account_id: 'acct-flat', outcome: 'created' });
  });

  it('re-import says updated and what changed, and keeps image off and the concurrency (no flag given)', { timeout: STEP_TIMEOUT_MS * 2 }, async () => {
    const again = await ok(['accounts', 'import', '-'], JSON.stringify(flatAgain));
    expect(again.stdout.trim()).toMatch(/^updated account second \(changed: tokens; plus, token expires \S+, image off\)$/);
    const shown = await json<Record<string, unknown>>(['accounts', 'show', 'second']);
    expect(shown).toMatchObject({ image_enabled: false, image_concurrency: 2 });
  });

  it('groups create, then a key routed to the group (human output holds the secret once)', { timeout: STEP_TIMEOUT_MS * 2 }, async () => {
    const group = await json<Record<string, unknown>>(['groups', 'create', 'team', '--accounts', 'second,alpha@example.com']);
    expect(group).toMatchObject({ name: 'team', accounts: ['second', 'alpha@example.com'] });
    const result = await ok(['keys', 'create', '--name', 'beta', '--group', 'team', '--quota-tokens', '1000']);
    const secret = result.stdout.trim().split('\n').at(-1) ?? '';
    expect(secret).toMatch(/^cig_\S+$/);
    expect(result.stdout).toContain('created key beta');
    secrets.push(secret);
    outputs.pop();
  });

  it('keys update changes only the flags given; unlimited clears a limit', { timeout: STEP_TIMEOUT_MS }, async () => {
    const key = await json<Record<string, unknown>>([
      'keys',
      'update',
      'alpha',
      '--status',
      'disabled',
      '--max-concurrency',
      'unlimited',
      '--accounts',
      'second',
      '--expires',
      '30d',
    ]);
    expect(key).toMatchObject({ status: 'disabled', max_concurrency: null, min_start_interval_ms: 250, routing: { mode: 'accounts', accounts: ['second'] } });
    expect(Number(key.expires_at) - Date.now()).toBeGreaterThan(30 * 86_400_000 - 60_000);
    expect(Number(key.expires_at) - Date.now()).toBeLessThanOrEqual(30 * 86_400_000);
  });

  it('keys rotate --grace 1h --json prints the new secret once and when the old one stops', { timeout: STEP_TIMEOUT_MS }, async () => {
    const rotated = await json<Record<string, unknown>>(['keys', 'rotate', 'alpha', '--grace', '1h']);
    expect(Object.keys(rotated).sort()).toEqual(['id', 'name', 'old_secret_expires_at', 'secret']);
    expect(rotated.secret).toMatch(/^cig_/);
    expect(Number(rotated.old_secret_expires_at) - Date.now()).toBeGreaterThan(3_600_000 - 60_000);
    secrets.push(String(rotated.secret));
    outputs.pop();
    await fails(
      ['keys', 'rotate', 'alpha', '--grace', '2y'],
      "option '--grace <duration>' argument '2y' is invalid. must be 0 or a number with a unit: 90m, 12h, 7d, 1w",
    );
  });

  it('keys update sets a monthly budget; keys show shows the period and its usage; keys reset-usage resets it and writes the app-log line', {
    timeout: STEP_TIMEOUT_MS * 3,
  }, async () => {
    const key = await json<Record<string, unknown>>([
      'keys',
      'update',
      'alpha',
      '--quota-period',
      'month',
      '--quota-images',
      '100',
      '--quota-cost-usd',
      '12.5',
    ]);
    expect(key).toMatchObject({ quota_period: 'month', quota_images: 100, quota_cost_usd: 12.5, usage_reset_at: null });
    expect(key.period_usage).toMatchObject({ images: 0, tokens: 0, estimated_cost_usd: 0 });
    const show = (await ok(['keys', 'show', 'alpha'])).stdout;
    expect(show).toMatch(/^quota period +month$/m);
    expect(show).toMatch(/^quota images +100$/m);
    expect(show).toMatch(/^quota cost +\$12\.5 \(estimated\)$/m);
    expect(show).toMatch(/^period usage +0 images, 0 tokens, \$0\.00 estimated \(.+ to .+\)$/m);
    const reset = await ok(['keys', 'reset-usage', 'alpha', '--json']);
    const view = JSON.parse(reset.stdout) as Record<string, unknown>;
    expect(Number(view.usage_reset_at)).toBeGreaterThan(Date.now() - 60_000);
    const audit = reset.stderr.split('\n').filter((line) => line.includes('key usage reset'));
    expect(audit).toHaveLength(1);
    expect(JSON.parse(audit[0]!)).toMatchObject({ msg: 'key usage reset', keyName: 'alpha', quotaPeriod: 'month', images: 0 });
    await fails(['keys', 'reset-usage', 'nobody'], 'key not found');
    await fails(
      ['keys', 'update', 'alpha', '--quota-period', 'year'],
      "option '--quota-period <period>' argument 'year' is invalid. Allowed choices are none, day, week, month.",
    );
  });

  it('keys list --json and the aligned table; keys show prints the prefix only', { timeout: STEP_TIMEOUT_MS * 3 }, async () => {
    const list = await json<Array<Record<string, unknown>>>(['keys', 'list']);
    expect(list.map((k) => k.name).sort()).toEqual(['alpha', 'beta']);
    const table = (await ok(['keys', 'list'])).stdout.trimEnd().split('\n');
    expect(table).toHaveLength(3);
    const nameColumn = table[0]?.indexOf('NAME') ?? -1;
    expect(nameColumn).toBeGreaterThan(0);
    expect(
      table
        .slice(1)
        .map((row: string) => row.slice(nameColumn).split(/\s+/)[0])
        .sort(),
    ).toEqual(['alpha', 'beta']);
    const show = (await ok(['keys', 'show', 'beta'])).stdout;
    expect(show).toMatch(/^routing +group: team$/m);
    expect(show).toMatch(/^quota tokens +1000$/m);
    expect(show).toContain(`${secrets[1]?.slice(0, 8)}`);
  });

  it('accounts list, update (image, concurrency, proxy masked), proxy none', { timeout: STEP_TIMEOUT_MS * 3 }, async () => {
    const table = (await ok(['accounts', 'list'])).stdout;
    expect(table).toMatch(/^NAME +STATUS +IMAGE/);
    expect(table).toMatch(/^second +active +off +2 /m);
    const updated = await json<Record<string, unknown>>([
      'accounts',
      'update',
      'second',
      '--image',
      'on',
      '--image-concurrency',
      '8',
      '--proxy',
      'http://u:pw-secret@127.0.0.1:3128',
    ]);
    expect(updated).toMatchObject({ image_enabled: true, image_concurrency: 8 });
    expect(JSON.stringify(updated)).not.toContain('pw-secret');
    const direct = await json<Record<string, unknown>>(['accounts', 'update', 'second', '--proxy', 'none']);
    expect(direct.proxy).toBeNull();
  });

  it('errors are one line on stderr and exit code 1', { timeout: STEP_TIMEOUT_MS * 4 }, async () => {
    await fails(['groups', 'delete', 'team'], 'group `team` is used by key `beta`; route those keys elsewhere first');
    await fails(['keys', 'create', '--name', 'gamma', '--max-concurrency', '0'], 'max_concurrency must be an integer between 1 and 1024');
    await fails(['keys', 'show', 'nope'], 'key not found');
    const dir = target.scratchDir();
    await fails(['accounts', 'import', dir], `cannot read ${dir}: it is a directory; give the auth.json file itself (e.g. ${join(dir, 'auth.json')})`);
    const opaque = join(dir, 'opaque-auth.json');
    await writeFile(opaque, '{"tokens":{"access_token":"not-a-jwt"}}');
    await fails(['accounts', 'import', opaque], 'auth JSON access token is not a JWT: import the auth.json that `codex login` writes (~/.codex/auth.json)');
    const usage = await cli(['keys', 'create', '--name', 'x', '--max-concurrency', 'abc']);
    expect(usage.code).toBe(1);
    expect(usage.stderr.trim().split('\n')).toHaveLength(1);
    expect(usage.stderr).toMatch(/^error: option '--max-concurrency <n\|unlimited>' argument 'abc' is invalid/);
  });

  it('usage before any traffic: an empty report, a CSV of its header only, an unknown key in one line', { timeout: STEP_TIMEOUT_MS * 3 }, async () => {
    const report = await json<{ by: string[]; rows: unknown[]; totals: { requests: number } }>(['usage', '--since', '7d']);
    expect(report).toMatchObject({ by: ['key'], rows: [], totals: { requests: 0 } });
    expect((await ok(['usage', '--by', 'day', '--format', 'csv'])).stdout).toBe(`${listUsageReportCsvColumns(['day']).join(',')}\r\n`);
    await fails(['usage', '--key', 'nope'], 'key not found');
  });

  it('delete keys, groups and accounts', { timeout: STEP_TIMEOUT_MS * 5 }, async () => {
    expect(await json(['keys', 'delete', 'beta'])).toEqual({ deleted: 'beta' });
    expect((await ok(['groups', 'delete', 'team'])).stdout.trim()).toBe('deleted group team');
    expect(await json(['groups', 'list'])).toEqual([]);
    await ok(['accounts', 'delete', 'second']);
    const accounts = await json<Array<Record<string, unknown>>>(['accounts', 'list']);
    expect(accounts.map((a) => a.name)).toEqual(['alpha@example.com']);
  });

  it('models list, set (prefix pattern and exact), remove, reset; errors in one line', { timeout: STEP_TIMEOUT_MS * 6 }, async () => {
    const table = (await ok(['models', 'list'])).stdout.trimEnd().split('\n');
    expect(table[0]).toMatch(/^ALIAS +UPSTREAM_MODEL +KIND$/);
    expect(table).toContainEqual(expect.stringMatching(/^dall-e-3 +gpt-image-2 +exact$/));
    expect(table).toContainEqual(expect.stringMatching(/^gpt-image-\* +gpt-image-2 +prefix$/));
    expect(await json(['models', 'set', 'team-*', 'gpt-image-1.5'])).toMatchObject({ alias: 'team-*', upstream_model: 'gpt-image-1.5', pattern: true });
    expect((await ok(['models', 'set', 'ft:my-model', 'gpt-image-2'])).stdout.trim()).toBe('model alias ft:my-model → gpt-image-2');
    const listed = await json<Array<{ alias: string }>>(['models', 'list']);
    expect(listed.map((r) => r.alias)).toEqual(expect.arrayContaining(['team-*', 'ft:my-model']));
    expect(await json(['models', 'remove', 'team-*'])).toEqual({ removed: 'team-*' });
    await fails(['models', 'remove', 'team-*'], 'model alias not found');
    await fails(
      ['models', 'set', 'bad name', 'gpt-image-2'],
      "alias must be 1 to 128 characters: a letter or digit, then letters, digits, '.', '_', ':', '/' or '-', optionally ending in '*' (a prefix pattern)",
    );
    expect((await ok(['models', 'reset'])).stdout.trim()).toBe('model aliases reset to the 9 defaults');
    expect((await json<Array<{ alias: string }>>(['models', 'list'])).map((r) => r.alias)).not.toContain('ft:my-model');
  });

  it('no output but the two create lines and the rotate line ever held a secret, its hash or a token', () => {
    expect(secrets).toHaveLength(3);
    const hashes = secrets.map((s) => createHash('sha256').update(s).digest('hex'));
    for (const { label, text } of outputs) {
      for (const leak of [...secrets, ...hashes, ...tokens]) expect(text, label).not.toContain(leak);
    }
  });
}
