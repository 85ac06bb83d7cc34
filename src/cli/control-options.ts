import { Option, type Command } from 'commander';
import { CONFIG_FIELDS } from '../config/fields.js';
import type { ControlFlags } from './control-context.js';

/** Flags every data command accepts, as commander parses them. */
export interface DataCommandFlags extends ControlFlags {
  json?: boolean;
}

const optionFor = (key: 'dataDir' | 'databaseUrl' | 'masterKeyFile', valueName: string): Option => {
  const field = CONFIG_FIELDS[key];
  return new Option(`${field.flag} <${valueName}>`, `${field.doc} (env ${field.env})`);
};

/**
 * Adds the flags that say where control data lives (help text from CONFIG_FIELDS, the one place
 * they are described). They sit on each data command, not on the program, so they never shadow
 * the same flags of `start`/`serve`/`control`.
 */
export function addControlOptions(cmd: Command): Command {
  return cmd.addOption(optionFor('dataDir', 'dir')).addOption(optionFor('databaseUrl', 'url')).addOption(optionFor('masterKeyFile', 'file'));
}

/** Adds the control flags plus `--json` (machine output) to a command that prints data. */
export function addDataOptions(cmd: Command): Command {
  return addControlOptions(cmd).option('--json', 'print JSON instead of a table');
}
