import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommanderError, type Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAccountImport, buildAccountUpdate, readAuthFile } from '../../../src/cli/accounts-commands.js';
import { COMMAND_HELP } from '../../../src/cli/command-help.js';
import { buildKeyInput } from '../../../src/cli/keys-commands.js';
import { CONFIG_FIELDS } from '../../../src/config/fields.js';
import { buildProgram } from '../../../src/cli/program.js';

/** Every command below the root with its path (`keys create` → ['keys', 'create']). */
function listCommands(cmd: Command, path: string[] = []): Array<{ path: string[]; cmd: Command }> {
  return cmd.commands.flatMap((sub) => [{ path: [...path, sub.name()], cmd: sub }, ...listCommands(sub, [...path, sub.name()])]);
}

/** Makes commander throw instead of exiting, and capture instead of printing, on every command. */
function quiet(program: Command): { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  for (const cmd of [program, ...listCommands(program).map((c) => c.cmd)]) {
    cmd.exitOverride().configureOutput({ writeOut: (s) => void out.push(s), writeErr: (s) => void err.push(s) });
  }
  return { out, err };
}

const DATA_LEAVES = [
  'migrate apply',
  'migrate status',
  'keys create',
  'keys list',
  'keys show',
  'keys update',
  'keys delete',
  'accounts import',
  'accounts list',
  'accounts show',
  'accounts update',
  'accounts delete',
  'groups create',
  'groups list',
  'groups show',
  'groups update',
  'groups delete',
  'models list',
  'models set',
  'models remove',
  'models reset',
  'jobs list',
  'jobs show',
  'jobs cancel',
  'usage',
];

describe('buildProgram', () => {
  const all = listCommands(buildProgram()).map((c) => c.path.join(' '));

  it('has every data command', () => {
    for (const leaf of DATA_LEAVES) expect(all).toContain(leaf);
  });

  it.each(all)('`%s --help` prints usage and exits 0', async (path) => {
    const program = buildProgram();
    const { out } = quiet(program);
    const run = program.parseAsync(['node', 'cli', ...path.split(' '), '--help']);
    await expect(run).rejects.toMatchObject({ exitCode: 0, code: 'commander.helpDisplayed' });
    expect(out.join('')).toContain(`Usage: codex-image-gateway ${path}`);
  });

  const LEAVES = listCommands(buildProgram())
    .filter((c) => c.cmd.commands.length === 0)
    .map((c) => c.path.join(' '));

  async function helpOf(path: string): Promise<string> {
    const program = buildProgram();
    const { out } = quiet(program);
    await expect(program.parseAsync(['node', 'cli', ...path.split(' '), '--help'])).rejects.toMatchObject({ code: 'commander.helpDisplayed' });
    return out.join('');
  }

  it('COMMAND_HELP has a row for each leaf command and none for a command that does not exist', () => {
    expect(Object.keys(COMMAND_HELP).sort()).toEqual([...LEAVES].sort());
  });

  it.each(LEAVES)('`%s --help` lists the variables it reads (master key first, from CONFIG_FIELDS) and shows an example of itself', async (path) => {
    const help = await helpOf(path);
    const envSection = help.slice(help.indexOf('Environment variables'));
    const names = [...envSection.matchAll(/^ {2}([A-Z][A-Z0-9_]+) /gm)].map((m) => m[1]);
    expect(names[0]).toBe(CONFIG_FIELDS.masterKey.env);
    for (const key of ['masterKeyFile', 'dataDir', 'databaseUrl'] as const) expect(names).toContain(CONFIG_FIELDS[key].env);
    expect(help).toContain(`  ${CONFIG_FIELDS.masterKey.env}`);
    expect(help).toContain(`Example:\n  $ `);
    expect(help.slice(help.indexOf('Example:'))).toContain(`codex-image-gateway ${path.replace(' apply', '')} `);
  });

  it('marks required options and settings: keys create --name, serve DATABASE_URL', async () => {
    expect(await helpOf('keys create')).toMatch(/--name <name>\s+\(required\) a name for the key/);
    const serve = await helpOf('serve');
    expect(serve).toMatch(/--database-url <value>\s+\(required\)/);
    expect(serve).toMatch(/^ {2}DATABASE_URL +\(required\)/m);
    expect(await helpOf('start')).not.toContain('(required)');
  });

  it('limit flags show their range from FIELD_LIMITS: keys, accounts, jobs list', async () => {
    const keys = (await helpOf('keys update')).replace(/\s+/g, ' ');
    expect(keys).toContain('--max-concurrency <n|unlimited> most requests in flight at once (1..1024)');
    expect(keys).toContain('--min-interval-ms <n|unlimited> least time between two request starts (0..300000)');
    expect(keys).toContain('--quota-tokens <n|unlimited> usage tokens this key may spend in its quota period (≥ 0)');
    expect((await helpOf('accounts import')).replace(/\s+/g, ' ')).toContain('--image-concurrency <n> most image requests at once on this account (1..1024)');
    expect((await helpOf('jobs list')).replace(/\s+/g, ' ')).toContain('--limit <n> how many (1..500, default 50)');
  });

  it('process commands name every other setting they read', async () => {
    const start = await helpOf('start');
    for (const field of Object.values(CONFIG_FIELDS)) expect(start).toContain(field.env);
  });

  it.each(DATA_LEAVES)('`%s` takes --data-dir, --database-url and --json', (path) => {
    const found = listCommands(buildProgram()).find((c) => c.path.join(' ') === path);
    const flags = found?.cmd.options.map((o) => o.long) ?? [];
    expect(flags).toEqual(expect.arrayContaining(['--data-dir', '--database-url', '--json']));
  });

  it('prints the package version', async () => {
    const program = buildProgram();
    const { out } = quiet(program);
    await expect(program.parseAsync(['node', 'cli', '--version'])).rejects.toBeInstanceOf(CommanderError);
    expect(out.join('').trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it.each([
    [['keys', 'create', '--name', 'k', '--max-concurrency', 'abc'], "'--max-concurrency <n|unlimited>' argument 'abc' is invalid"],
    [['keys', 'create', '--name', 'k', '--image', 'yes'], "must be 'on' or 'off'"],
    [['keys', 'create', '--name', 'k', '--accounts', 'a', '--group', 'g'], 'cannot be used with'],
    [['keys', 'update', 'k', '--status', 'paused'], 'Allowed choices are active, disabled'],
    [['keys', 'create'], "required option '--name <name>' not specified"],
    [['accounts', 'update', 'a', '--image-concurrency', 'many'], 'must be a number'],
    [['usage', '--format', 'xml'], 'Allowed choices are table, json, csv'],
    [['usage', '--format', 'csv', '--json'], 'cannot be used with'],
  ])('refuses %j before touching any data, with one line', async (args, message) => {
    const program = buildProgram();
    const { err } = quiet(program);
    await expect(program.parseAsync(['node', 'cli', ...args])).rejects.toMatchObject({ exitCode: 1 });
    expect(err.join('')).toContain(message);
    expect(err.join('').trim().split('\n')).toHaveLength(1);
  });
});

describe('flags reach the service as the service expects them', () => {
  function parseFlags(path: string, args: string[]): Record<string, unknown> {
    const found = listCommands(buildProgram()).find((c) => c.path.join(' ') === path);
    if (!found) throw new Error(`no command ${path}`);
    found.cmd.parseOptions(args);
    return found.cmd.opts();
  }

  it('keys update: unlimited clears limits (null, not ""), numbers stay numbers, routing from --accounts', () => {
    const flags = parseFlags('keys update', [
      '--max-concurrency',
      'unlimited',
      '--quota-tokens',
      'unlimited',
      '--min-interval-ms',
      '250',
      '--accounts',
      'a,b',
      '--image',
      'off',
    ]);
    expect(buildKeyInput(flags)).toEqual({
      maxConcurrency: null,
      quotaTokens: null,
      minStartIntervalMs: 250,
      imageEnabled: false,
      routing: { mode: 'accounts', accounts: ['a', 'b'] },
    });
  });

  it('keys update: --all-accounts resets routing; nothing given changes nothing', () => {
    expect(buildKeyInput(parseFlags('keys update', ['--all-accounts']))).toEqual({ routing: { mode: 'all' } });
    expect(buildKeyInput(parseFlags('keys update', []))).toEqual({});
  });

  it('accounts update: --proxy none clears the proxy (null), a URL passes through', () => {
    expect(buildAccountUpdate(parseFlags('accounts update', ['--proxy', 'none']))).toEqual({ proxyUrl: null });
    expect(buildAccountUpdate(parseFlags('accounts update', ['--proxy', 'http://127.0.0.1:3128', '--image-concurrency', '8']))).toEqual({
      proxyUrl: 'http://127.0.0.1:3128',
      imageConcurrency: 8,
    });
  });

  it("accounts import: a flag not given is not sent, so a re-import keeps the account's setting", () => {
    expect(buildAccountImport('{}', parseFlags('accounts import', []))).toEqual({ auth: '{}' });
    expect(buildAccountImport('{}', parseFlags('accounts import', ['--image', 'off', '--image-concurrency', '2', '--proxy', 'none', '--name', 'n']))).toEqual({
      auth: '{}',
      name: 'n',
      imageEnabled: false,
      imageConcurrency: 2,
      proxyUrl: null,
    });
  });
});

describe('readAuthFile: one line naming the path and the reason, never the content', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cig-read-auth-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const failure = async (path: string) =>
    readAuthFile(path).then(
      () => null,
      (err: unknown) => err,
    );

  it('reads a file', async () => {
    await writeFile(join(dir, 'auth.json'), '{"a":1}');
    expect(await readAuthFile(join(dir, 'auth.json'))).toBe('{"a":1}');
  });

  it('a directory names the file to give instead', async () => {
    await mkdir(join(dir, 'codex'));
    expect(await failure(join(dir, 'codex'))).toMatchObject({
      code: 'invalid_request',
      param: 'file',
      message: `cannot read ${join(dir, 'codex')}: it is a directory; give the auth.json file itself (e.g. ${join(dir, 'codex', 'auth.json')})`,
    });
  });

  it.each([
    ['a missing file', 'missing.json', 'no such file'],
    ['a path through a file', 'auth.json/inner', 'no such file'],
    ['a symlink loop', 'loop', 'ELOOP'],
  ])('%s', async (_label, name, reason) => {
    await symlink(join(dir, 'loop'), join(dir, 'loop')).catch(() => undefined);
    expect(await failure(join(dir, name))).toMatchObject({ code: 'invalid_request', param: 'file', message: `cannot read ${join(dir, name)}: ${reason}` });
  });

  it.runIf(process.getuid?.() !== 0)('an unreadable file says permission denied', async () => {
    const path = join(dir, 'secret.json');
    await writeFile(path, '{"access_token":"secret-token"}', { mode: 0o000 });
    await chmod(path, 0o000);
    const err = (await failure(path)) as Error;
    expect(err).toMatchObject({ code: 'invalid_request', message: `cannot read ${path}: permission denied` });
    expect(err.message).not.toContain('secret-token');
  });
});

describe('usage: the range and grouping are checked before any data is opened', () => {
  // No data directory exists here: a command that got as far as opening data would fail with `no gateway data found`.
  const nowhere = ['--data-dir', join(tmpdir(), 'cig-no-such-data-dir')];
  it.each([
    [['--by', 'week'], 'by must be one or two of key, account, model, endpoint, day, hour, comma-separated'],
    [['--by', 'day,hour'], 'by takes at most one of day and hour'],
    [['--since', '1d', '--until', '7d'], 'since must be before until'],
    [['--since', 'last week'], 'since must be ms since epoch, an ISO 8601 time or a duration before now (24h, 7d, 30d)'],
  ])('%j', async (args, message) => {
    const program = buildProgram();
    quiet(program);
    await expect(program.parseAsync(['node', 'cli', 'usage', ...args, ...nowhere])).rejects.toMatchObject({ code: 'invalid_request', message });
  });
});
