import type { Command } from 'commander';
import { buildWireView } from '../control/admin-wire.js';
import { parseNameListArg } from './cli-arg-parsers.js';
import { withControl } from './control-context.js';
import { addDataOptions, type DataCommandFlags } from './control-options.js';
import { formatGroupDetails, formatGroupTable, formatJson, writeOut } from './print.js';

interface GroupFlags extends DataCommandFlags {
  name?: string;
  accounts?: string[];
}

/** Registers `groups create|list|show|update|delete`: named, ordered sets of accounts a key can be pinned to. */
export function registerGroupsCommands(program: Command): void {
  const groups = program.command('groups').description('manage account groups (keys can be routed to a group)');

  addDataOptions(groups.command('create').description('create a group').argument('<name>', 'group name'))
    .option('--accounts <a,b>', 'member accounts, in order', parseNameListArg)
    .action(async (name: string, flags: GroupFlags) => {
      const group = await withControl(flags, (api) => api.groups.create(flags.accounts ? { name, accounts: flags.accounts } : { name }));
      writeOut(flags.json ? formatJson(buildWireView(group)) : formatGroupDetails(group));
    });

  addDataOptions(groups.command('list').description('list groups')).action(async (flags: DataCommandFlags) => {
    const list = await withControl(flags, (api) => api.groups.list());
    writeOut(flags.json ? formatJson(list.map(buildWireView)) : formatGroupTable(list));
  });

  addDataOptions(groups.command('show').description('show one group').argument('<group>', 'group name or id')).action(
    async (ref: string, flags: DataCommandFlags) => {
      const group = await withControl(flags, (api) => api.groups.get(ref));
      writeOut(flags.json ? formatJson(buildWireView(group)) : formatGroupDetails(group));
    },
  );

  addDataOptions(groups.command('update').description('rename a group or replace its members').argument('<group>', 'group name or id'))
    .option('--name <name>', 'rename the group')
    .option('--accounts <a,b>', 'replace the members (in order)', parseNameListArg)
    .action(async (ref: string, flags: GroupFlags) => {
      const input = Object.fromEntries(Object.entries({ name: flags.name, accounts: flags.accounts }).filter(([, v]) => v !== undefined));
      const group = await withControl(flags, (api) => api.groups.update(ref, input));
      writeOut(flags.json ? formatJson(buildWireView(group)) : formatGroupDetails(group));
    });

  addDataOptions(groups.command('delete').description('delete a group').argument('<group>', 'group name or id')).action(
    async (ref: string, flags: DataCommandFlags) => {
      await withControl(flags, (api) => api.groups.delete(ref));
      writeOut(flags.json ? formatJson({ deleted: ref }) : `deleted group ${ref}`);
    },
  );
}
