import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { FIELD_LIMITS } from '../config/field-limits.js';
import type { AccountImportInput, AccountImportResult, AccountUpdateInput } from '../control/control-api.js';
import { buildWireView } from '../control/admin-wire.js';
import { GatewayError } from '../errors/codes.js';
import { buildLimitFlagHelp, parseNumberArg, parseProxyArg, parseSwitchArg, resolveClearable, type Cleared } from './cli-arg-parsers.js';
import { withControl } from './control-context.js';
import { addDataOptions, type DataCommandFlags } from './control-options.js';
import { formatAccountDetails, formatAccountTable, formatImportedAccount, formatJson, writeOut } from './print.js';

/** What commander parses for `accounts import` and `accounts update`. */
export interface AccountFlags extends DataCommandFlags {
  name?: string;
  image?: boolean;
  imageConcurrency?: number;
  proxy?: string | Cleared;
  status?: 'active' | 'disabled';
}

/** An auth.json is a few KiB; a file past this is not one (the admin API refuses it too). */
const MAX_AUTH_FILE_BYTES = 1024 * 1024;

/** Why a file could not be read, by Node's error code (anything else is named by its code). */
const FILE_ERROR_REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  ENOTDIR: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a directory',
};

/** One line naming the path and the reason, never the content. */
function buildFileError(path: string, err: unknown): GatewayError {
  const code = String((err as { code?: unknown } | null)?.code ?? 'unknown error');
  return new GatewayError('invalid_request', `cannot read ${path}: ${FILE_ERROR_REASONS[code] ?? code}`, 'file');
}

/**
 * Reads the auth JSON text from a file, or from stdin for `-`. A missing, unreadable or oversized
 * file, or a directory, is one `invalid_request` line (param `file`). The content never reaches a message.
 */
export async function readAuthFile(path: string): Promise<string> {
  if (path === '-') return readStdin();
  const info = await stat(path).catch((err: unknown) => {
    throw buildFileError(path, err);
  });
  if (info.isDirectory()) {
    throw new GatewayError(
      'invalid_request',
      `cannot read ${path}: it is a directory; give the auth.json file itself (e.g. ${join(path, 'auth.json')})`,
      'file',
    );
  }
  if (!info.isFile()) throw new GatewayError('invalid_request', `cannot read ${path}: not a regular file`, 'file');
  if (info.size > MAX_AUTH_FILE_BYTES) throw new GatewayError('invalid_request', `${path} is larger than 1 MiB: not an auth.json`, 'file');
  return readFile(path, 'utf8').catch((err: unknown) => {
    throw buildFileError(path, err);
  });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buf.length;
    if (size > MAX_AUTH_FILE_BYTES) throw new GatewayError('invalid_request', 'stdin is larger than 1 MiB: not an auth.json', 'file');
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** What `accounts import --json` prints: enough to script with, never a token. */
const buildImportSummary = (a: AccountImportResult) => ({
  name: a.name,
  account_id: a.chatgptAccountId,
  plan_type: a.planType,
  access_token_expires_at: a.accessTokenExpiresAt,
  outcome: a.outcome,
  changed: a.changed,
});

/**
 * Turns `accounts import` flags into an import with only the settings the user gave, so a re-import
 * never resets one (a new account gets the service's defaults).
 */
export function buildAccountImport(auth: string, flags: AccountFlags): AccountImportInput {
  const settings = { name: flags.name, imageEnabled: flags.image, imageConcurrency: flags.imageConcurrency, proxyUrl: resolveClearable(flags.proxy) };
  return { auth, ...Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined)) };
}

/** Turns `accounts update` flags into an update with only the fields the user gave. */
export function buildAccountUpdate(flags: AccountFlags): AccountUpdateInput {
  const input: AccountUpdateInput = {
    name: flags.name,
    status: flags.status,
    imageEnabled: flags.image,
    imageConcurrency: flags.imageConcurrency,
    proxyUrl: resolveClearable(flags.proxy),
  };
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
}

const addImageOptions = (cmd: Command): Command =>
  cmd
    .option('--image-concurrency <n>', buildLimitFlagHelp(FIELD_LIMITS.accountImageConcurrency), parseNumberArg)
    .option('--proxy <url|none>', 'http(s)/socks5 proxy for this account; none = direct', parseProxyArg);

/** Registers `accounts import|list|show|update|delete`. */
export function registerAccountsCommands(program: Command): void {
  const accounts = program.command('accounts').description('manage the ChatGPT (Codex) accounts that produce images');

  addImageOptions(addDataOptions(accounts.command('import').description('import a Codex auth.json (or a JSON with an access token)')))
    .argument('<file>', "path to the auth JSON, or '-' for stdin")
    .option('--name <name>', "account name (default: the token's email or account id)")
    .option('--image <on|off>', 'whether this account serves images (new accounts: on; a re-import keeps the setting unless given)', parseSwitchArg)
    .action(async (file: string, flags: AccountFlags) => {
      const input = buildAccountImport(await readAuthFile(file), flags);
      const account = await withControl(flags, (api) => api.accounts.import(input));
      writeOut(flags.json ? formatJson(buildImportSummary(account)) : formatImportedAccount(account));
    });

  addDataOptions(accounts.command('list').description('list accounts (never a token)')).action(async (flags: DataCommandFlags) => {
    const list = await withControl(flags, (api) => api.accounts.list());
    writeOut(flags.json ? formatJson(list.map(buildWireView)) : formatAccountTable(list));
  });

  addDataOptions(accounts.command('show').description('show one account (never a token)').argument('<account>', 'account name or id')).action(
    async (ref: string, flags: DataCommandFlags) => {
      const account = await withControl(flags, (api) => api.accounts.get(ref));
      writeOut(flags.json ? formatJson(buildWireView(account)) : formatAccountDetails(account));
    },
  );

  addImageOptions(addDataOptions(accounts.command('update').description('change an account; only the flags given change')))
    .argument('<account>', 'account name or id')
    .option('--name <name>', 'rename the account')
    .option('--image <on|off>', 'whether this account serves images', parseSwitchArg)
    .addOption(new Option('--status <status>', 'enable or disable the account').choices(['active', 'disabled']))
    .action(async (ref: string, flags: AccountFlags) => {
      const account = await withControl(flags, (api) => api.accounts.update(ref, buildAccountUpdate(flags)));
      writeOut(flags.json ? formatJson(buildWireView(account)) : formatAccountDetails(account));
    });

  addDataOptions(accounts.command('delete').description('delete an account and its stored credentials').argument('<account>', 'account name or id')).action(
    async (ref: string, flags: DataCommandFlags) => {
      await withControl(flags, (api) => api.accounts.delete(ref));
      writeOut(flags.json ? formatJson({ deleted: ref }) : `deleted account ${ref}`);
    },
  );
}
