import type { Command } from 'commander';
import { buildWireView } from '../control/admin-wire.js';
import { withControl } from './control-context.js';
import { addDataOptions, type DataCommandFlags } from './control-options.js';
import { formatInstanceTable, formatJson, writeOut } from './print.js';

/** Registers `instances`: the processes sharing this database (start, serve, control), live, dead or stopped. */
export function registerInstancesCommands(program: Command): void {
  addDataOptions(
    program
      .command('instances')
      .description('list the gateway processes sharing this database (instance registry): role, state, version, addresses, last seen'),
  ).action(async (flags: DataCommandFlags) => {
    const list = await withControl(flags, (api) => api.instances.list());
    writeOut(flags.json ? formatJson(list.map(buildWireView)) : formatInstanceTable(list, Date.now()));
  });
}
