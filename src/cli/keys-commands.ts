import { QUOTA_PERIODS, type QuotaPeriod } from '../limits/budget-period.js';
import { Option, type Command } from 'commander';
import { FIELD_LIMITS } from '../config/field-limits.js';
import type { KeyCreateInput, KeyRoutingInput, KeyUpdateInput } from '../control/control-api.js';
import { buildWireView } from '../control/admin-wire.js';
import {
  buildLimitFlagHelp,
  parseDurationArg,
  parseExpiresArg,
  parseLimitArg,
  parseNameListArg,
  parseSwitchArg,
  resolveClearable,
  type Cleared,
} from './cli-arg-parsers.js';
import { withControl } from './control-context.js';
import { addDataOptions, type DataCommandFlags } from './control-options.js';
import { formatCreatedKey, formatJson, formatKeyDetails, formatKeyTable, formatRotatedKey, writeOut } from './print.js';

/** What commander parses for `keys create` and `keys update`. */
export interface KeyFlags extends DataCommandFlags {
  name?: string;
  quotaPeriod?: QuotaPeriod;
  quotaTokens?: number | Cleared;
  quotaImages?: number | Cleared;
  quotaCostUsd?: number | Cleared;
  maxConcurrency?: number | Cleared;
  minIntervalMs?: number | Cleared;
  image?: boolean;
  accounts?: string[];
  group?: string;
  allAccounts?: boolean;
  status?: 'active' | 'disabled';
  expires?: number | string | Cleared;
}

/** What commander parses for `keys rotate`. */
interface RotateFlags extends DataCommandFlags {
  grace?: number;
}

/** The limit, switch and routing flags `keys create` and `keys update` share. */
function addKeyOptions(cmd: Command): Command {
  return addDataOptions(cmd)
    .addOption(
      new Option('--quota-period <period>', "what the quota limits count over: the key's whole life, or the current day, week or month").choices(QUOTA_PERIODS),
    )
    .option('--quota-tokens <n|unlimited>', buildLimitFlagHelp(FIELD_LIMITS.keyQuotaTokens), parseLimitArg)
    .option('--quota-images <n|unlimited>', buildLimitFlagHelp(FIELD_LIMITS.keyQuotaImages), parseLimitArg)
    .option('--quota-cost-usd <usd|unlimited>', buildLimitFlagHelp(FIELD_LIMITS.keyQuotaCostUsd), parseLimitArg)
    .option('--max-concurrency <n|unlimited>', buildLimitFlagHelp(FIELD_LIMITS.keyMaxConcurrency), parseLimitArg)
    .option('--min-interval-ms <n|unlimited>', buildLimitFlagHelp(FIELD_LIMITS.keyMinStartIntervalMs), parseLimitArg)
    .option('--image <on|off>', 'whether this key may generate images', parseSwitchArg)
    .option('--expires <when|never>', 'when the key stops working: a time from now (30d, 12h, 90m, 2w) or a date-time (2027-01-31T00:00:00Z)', (raw) =>
      parseExpiresArg(raw),
    )
    .addOption(new Option('--accounts <a,b>', 'route only to these accounts, in this order').argParser(parseNameListArg).conflicts(['group', 'allAccounts']))
    .addOption(new Option('--group <name>', 'route only to the accounts of this group').conflicts(['allAccounts']));
}

function buildRouting(flags: KeyFlags): KeyRoutingInput | undefined {
  if (flags.accounts) return { mode: 'accounts', accounts: flags.accounts };
  if (flags.group !== undefined) return { mode: 'group', group: flags.group };
  return flags.allAccounts ? { mode: 'all' } : undefined;
}

/** Turns flags into a key input with only the fields the user gave (absent = unchanged or the default). */
export function buildKeyInput(flags: KeyFlags): KeyUpdateInput {
  const input: KeyUpdateInput = {
    name: flags.name,
    status: flags.status,
    imageEnabled: flags.image,
    quotaPeriod: flags.quotaPeriod,
    quotaTokens: resolveClearable(flags.quotaTokens),
    quotaImages: resolveClearable(flags.quotaImages),
    quotaCostUsd: resolveClearable(flags.quotaCostUsd),
    maxConcurrency: resolveClearable(flags.maxConcurrency),
    minStartIntervalMs: resolveClearable(flags.minIntervalMs),
    routing: buildRouting(flags),
    expiresAt: resolveClearable(flags.expires),
  };
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
}

/** Registers `keys create|list|show|update|rotate|reset-usage|delete`. */
export function registerKeysCommands(program: Command): void {
  const keys = program.command('keys').description('manage gateway API keys');

  addKeyOptions(keys.command('create').description('create a key and print its secret (shown only this once)'))
    .requiredOption('--name <name>', 'a name for the key (unique)')
    .action(async (flags: KeyFlags) => {
      const input: KeyCreateInput = { ...buildKeyInput(flags), name: flags.name ?? '' };
      const created = await withControl(flags, (api) => api.keys.create(input));
      const { key, secret } = created;
      writeOut(flags.json ? formatJson({ id: key.id, name: key.name, secret }) : formatCreatedKey(key, secret));
    });

  addDataOptions(keys.command('list').description('list keys with their limits and usage')).action(async (flags: DataCommandFlags) => {
    const list = await withControl(flags, (api) => api.keys.list());
    writeOut(flags.json ? formatJson(list.map(buildWireView)) : formatKeyTable(list));
  });

  addDataOptions(keys.command('show').description('show one key (its prefix, never its secret)').argument('<key>', 'key id or name')).action(
    async (ref: string, flags: DataCommandFlags) => {
      const key = await withControl(flags, (api) => api.keys.get(ref));
      writeOut(flags.json ? formatJson(buildWireView(key)) : formatKeyDetails(key));
    },
  );

  addKeyOptions(keys.command('update').description('change a key; only the flags given change').argument('<key>', 'key id or name'))
    .option('--name <name>', 'rename the key')
    .addOption(new Option('--status <status>', 'enable or disable the key').choices(['active', 'disabled']))
    .option('--all-accounts', 'route to every account again')
    .action(async (ref: string, flags: KeyFlags) => {
      const key = await withControl(flags, (api) => api.keys.update(ref, buildKeyInput(flags)));
      writeOut(flags.json ? formatJson(buildWireView(key)) : formatKeyDetails(key));
    });

  addDataOptions(keys.command('rotate').description('give a key a new secret (shown only this once)').argument('<key>', 'key id or name'))
    .option('--grace <duration>', `how long the old secret keeps working: 0 (refused at once, the default) up to 7d (90m, 12h, 7d)`, parseDurationArg)
    .action(async (ref: string, flags: RotateFlags) => {
      const { key, secret } = await withControl(flags, (api) => api.keys.rotate(ref, flags.grace === undefined ? {} : { graceMs: flags.grace }));
      writeOut(
        flags.json ? formatJson({ id: key.id, name: key.name, secret, old_secret_expires_at: key.previousSecretExpiresAt }) : formatRotatedKey(key, secret),
      );
    });

  addDataOptions(
    keys
      .command('reset-usage')
      .description("start a key's usage in its current quota period from zero (written to the app log)")
      .argument('<key>', 'key id or name'),
  ).action(async (ref: string, flags: DataCommandFlags) => {
    const key = await withControl(flags, (api) => api.keys.resetUsage(ref));
    writeOut(flags.json ? formatJson(buildWireView(key)) : formatKeyDetails(key));
  });

  addDataOptions(keys.command('delete').description('delete a key (it stops working at once)').argument('<key>', 'key id or name')).action(
    async (ref: string, flags: DataCommandFlags) => {
      await withControl(flags, (api) => api.keys.delete(ref));
      writeOut(flags.json ? formatJson({ deleted: ref }) : `deleted key ${ref}`);
    },
  );
}
