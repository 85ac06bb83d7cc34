import type { Command } from 'commander';
import { CONFIG_FIELDS, type ConfigKey } from '../config/fields.js';

/** The settings every data command reads (where the data is, how to open it), the master key first. */
const DATA_COMMAND_ENV = ['masterKey', 'masterKeyFile', 'dataDir', 'databaseUrl', 'adminToken'] as const satisfies readonly ConfigKey[];

/** What `--help` adds under one command: the settings it reads (first shown with their doc), which are required, an example. */
interface CommandHelp {
  /** Settings listed one per line with their variable and doc, in this order. */
  env: readonly ConfigKey[];
  /** Of those, the ones the command cannot run without. */
  required?: readonly ConfigKey[];
  /** True when every other CONFIG_FIELDS row is read too (listed by name only). */
  readsAll?: boolean;
  example: string;
}

const PROCESS_ENV = ['masterKey', 'masterKeyFile', 'databaseUrl', 'dataDir', 'adminToken', 'logDir'] as const satisfies readonly ConfigKey[];

/**
 * The help of each leaf command, by its path under the program. A test checks that every leaf
 * command has a row, so a new command cannot ship without its variables and an example.
 */
export const COMMAND_HELP: Readonly<Record<string, CommandHelp>> = {
  start: { env: [...PROCESS_ENV, 'listen', 'adminListen'], readsAll: true, example: 'codex-image-gateway start --data-dir ./data --listen 127.0.0.1:19082' },
  serve: {
    env: [...PROCESS_ENV, 'listen'],
    required: ['databaseUrl'],
    readsAll: true,
    example: 'DATABASE_URL=postgres://gw@db/gw CODEX_IMAGE_GATEWAY_MASTER_KEY_FILE=/etc/cig/master.key codex-image-gateway serve --listen 0.0.0.0:19082',
  },
  control: {
    env: [...PROCESS_ENV, 'adminListen'],
    readsAll: true,
    example: 'codex-image-gateway control --database-url postgres://gw@db/gw --master-key-file /etc/cig/master.key --migrate',
  },
  'migrate apply': { env: DATA_COMMAND_ENV, example: 'codex-image-gateway migrate --database-url postgres://gw@db/gw' },
  'migrate status': { env: DATA_COMMAND_ENV, example: 'codex-image-gateway migrate status --data-dir ./data' },
  'keys create': { env: DATA_COMMAND_ENV, example: 'codex-image-gateway keys create --name alice --max-concurrency 4 --data-dir ./data' },
  'keys list': { env: DATA_COMMAND_ENV, example: 'codex-image-gateway keys list --json --data-dir ./data' },
  'keys show': { env: DATA_COMMAND_ENV, example: 'codex-image-gateway keys show alice --data-dir ./data' },
  'keys update': { env: DATA_COMMAND_ENV, example: 'codex-image-gateway keys update alice --status disabled --data-dir ./data' },
  'keys rotate': { env: DATA_COMMAND_ENV, example: 'codex-image-gateway keys rotate alice --grace 1h --data-dir ./data' },
  'keys reset-usage': { env: DATA_COMMAND_ENV, example: 'codex-image-gateway keys reset-usage alice --data-dir ./data' },
  'keys delete': { env: DATA_COMMAND_ENV, example: 'codex-image-gateway keys delete alice --data-dir ./data' },
  'accounts import': { env: DATA_COMMAND_ENV, example: 'codex-image-gateway accounts import ~/.codex/auth.json --data-dir ./data' },
  'accounts list': { env: DATA_COMMAND_ENV, example: 'codex-image-gateway accounts list --data-dir ./data' },
  'accounts show': { env: DATA_COMMAND_ENV, example: 'codex-image-gateway accounts show alpha@example.com --data-dir ./data' },
  'accounts update': { env: DATA_COMMAND_ENV, example: 'codex-image-gateway accounts update alpha@example.com --image off --data-dir ./data' },
  'accounts delete': { env: DATA_COMMAND_ENV, example: 'codex-image-gateway accounts delete alpha@example.com --data-dir ./data' },
  'groups create': { env: DATA_COMMAND_ENV, example: 'codex-image-gateway groups create team --accounts alpha@example.com --data-dir ./data' },
  'groups list': { env: DATA_COMMAND_ENV, example: 'codex-image-gateway groups list --data-dir ./data' },
  'groups show': { env: DATA_COMMAND_ENV, example: 'codex-image-gateway groups show team --data-dir ./data' },
  'groups update': { env: DATA_COMMAND_ENV, example: 'codex-image-gateway groups update team --name team-b --data-dir ./data' },
  'groups delete': { env: DATA_COMMAND_ENV, example: 'codex-image-gateway groups delete team --data-dir ./data' },
  'models list': { env: DATA_COMMAND_ENV, example: 'codex-image-gateway models list --data-dir ./data' },
  'models set': { env: DATA_COMMAND_ENV, example: "codex-image-gateway models set 'gpt-image-*' gpt-image-2 --data-dir ./data" },
  'models remove': { env: DATA_COMMAND_ENV, example: "codex-image-gateway models remove 'gpt-image-*' --data-dir ./data" },
  'models reset': { env: DATA_COMMAND_ENV, example: 'codex-image-gateway models reset --data-dir ./data' },
  'jobs list': { env: DATA_COMMAND_ENV, example: 'codex-image-gateway jobs list --data-dir ./data' },
  'jobs show': { env: DATA_COMMAND_ENV, example: 'codex-image-gateway jobs show 0123456789ab --data-dir ./data' },
  'jobs cancel': { env: DATA_COMMAND_ENV, example: 'codex-image-gateway jobs cancel 0123456789ab --data-dir ./data' },
  instances: { env: DATA_COMMAND_ENV, example: 'codex-image-gateway instances --database-url postgres://gw@db/gw' },
  usage: { env: DATA_COMMAND_ENV, example: 'codex-image-gateway usage --since 7d --by key,day --format csv --data-dir ./data > usage.csv' },
};

/** The path of a command under the program (`keys create`), its program name left out. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let at: Command | null = cmd; at?.parent; at = at.parent) names.unshift(at.name());
  return names.join(' ');
}

/** The leaf commands under `cmd` (the ones that run something). */
export function leafCommands(cmd: Command): Command[] {
  return cmd.commands.length === 0 ? [cmd] : cmd.commands.flatMap(leafCommands);
}

function renderHelp(help: CommandHelp): string {
  const required = new Set<ConfigKey>(help.required ?? []);
  const width = Math.max(...help.env.map((key) => CONFIG_FIELDS[key].env.length));
  const rows = help.env.map((key) => `  ${CONFIG_FIELDS[key].env.padEnd(width)}  ${required.has(key) ? '(required) ' : ''}${CONFIG_FIELDS[key].doc}`);
  const listed = new Set<ConfigKey>(help.env);
  const rest = help.readsAll ? (Object.keys(CONFIG_FIELDS) as ConfigKey[]).filter((key) => !listed.has(key)).map((key) => CONFIG_FIELDS[key].env) : [];
  const also = rest.length > 0 ? [`  also read (README, Configuration): ${rest.join(', ')}`] : [];
  return ['', 'Environment variables (a flag, where there is one, wins):', ...rows, ...also, '', 'Example:', `  $ ${help.example}`].join('\n');
}

/**
 * Adds to every leaf command's `--help` the environment variables it reads (from CONFIG_FIELDS),
 * marks required options `(required)`, and shows an example (COMMAND_HELP).
 * @throws Error when a leaf command has no COMMAND_HELP row (a programming error, caught by a test).
 */
export function applyCommandHelp(program: Command): void {
  for (const cmd of leafCommands(program)) {
    const help = COMMAND_HELP[commandPath(cmd)];
    if (!help) throw new Error(`no COMMAND_HELP row for \`${commandPath(cmd)}\``);
    const requiredFlags = new Set(
      (help.required ?? [])
        .map((key) => CONFIG_FIELDS[key])
        .filter((f) => 'flag' in f)
        .map((f) => (f as { flag: string }).flag),
    );
    for (const option of cmd.options) {
      if (option.mandatory || requiredFlags.has(option.long ?? '')) option.description = `(required) ${option.description}`;
    }
    cmd.addHelpText('after', renderHelp(help));
  }
}
