import { Command } from 'commander';
import { PACKAGE_VERSION } from '../runtime/package-version.js';
import { registerAccountsCommands } from './accounts-commands.js';
import { applyCommandHelp } from './command-help.js';
import { registerGroupsCommands } from './groups-commands.js';
import { registerInstancesCommands } from './instances-commands.js';
import { registerJobsCommands } from './jobs-commands.js';
import { registerKeysCommands } from './keys-commands.js';
import { registerMigrateCommands } from './migrate-commands.js';
import { registerModelsCommands } from './models-commands.js';
import { registerProcessCommands } from './process-commands.js';
import { registerUsageCommands } from './usage-commands.js';

/**
 * Builds the whole command line: the process commands (start/serve/control) and the data commands
 * (migrate, keys, accounts, groups, models, jobs, instances, usage). Data commands take `--data-dir`/`--database-url`/`--json`
 * on themselves, so those flags never collide with the same flags of the process commands.
 */
export function buildProgram(): Command {
  const program = new Command('codex-image-gateway')
    .description('OpenAI Images API gateway over a pool of ChatGPT (Codex) accounts')
    .version(PACKAGE_VERSION, '-V, --version', 'print the version');
  registerProcessCommands(program);
  registerMigrateCommands(program);
  registerKeysCommands(program);
  registerAccountsCommands(program);
  registerGroupsCommands(program);
  registerModelsCommands(program);
  registerJobsCommands(program);
  registerInstancesCommands(program);
  registerUsageCommands(program);
  applyCommandHelp(program);
  return program;
}
