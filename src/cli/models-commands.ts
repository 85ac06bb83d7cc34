import type { Command } from 'commander';
import { buildWireView } from '../control/admin-wire.js';
import { withControl } from './control-context.js';
import { addDataOptions, type DataCommandFlags } from './control-options.js';
import { formatJson, formatModelAliasTable, writeOut } from './print.js';

/**
 * Registers `models list|set|remove|reset`: the model mapping (which upstream model serves each
 * model name a client may ask for). The strict switch is the setting `model_aliases_strict`
 * (admin API or console).
 */
export function registerModelsCommands(program: Command): void {
  const models = program.command('models').description('manage model aliases (requested model name → upstream model)');

  addDataOptions(models.command('list').description('list model aliases (a trailing * is a prefix pattern)')).action(async (flags: DataCommandFlags) => {
    const list = await withControl(flags, (api) => api.modelAliases.list());
    writeOut(flags.json ? formatJson(list.map(buildWireView)) : formatModelAliasTable(list));
  });

  addDataOptions(
    models
      .command('set')
      .description('map a model name (or a prefix pattern like gpt-image-*) to an upstream model')
      .argument('<alias>', 'model name clients send, or a prefix pattern ending in *')
      .argument('<upstream>', 'upstream model that serves it'),
  ).action(async (alias: string, upstream: string, flags: DataCommandFlags) => {
    const row = await withControl(flags, (api) => api.modelAliases.set(alias, { upstreamModel: upstream }));
    writeOut(flags.json ? formatJson(buildWireView(row)) : `model alias ${row.alias} → ${row.upstreamModel}`);
  });

  addDataOptions(models.command('remove').description('remove one model alias').argument('<alias>', 'the alias, exactly as listed')).action(
    async (alias: string, flags: DataCommandFlags) => {
      await withControl(flags, (api) => api.modelAliases.remove(alias));
      writeOut(flags.json ? formatJson({ removed: alias }) : `removed model alias ${alias}`);
    },
  );

  addDataOptions(models.command('reset').description('replace every model alias with the defaults')).action(async (flags: DataCommandFlags) => {
    const list = await withControl(flags, (api) => api.modelAliases.reset());
    writeOut(flags.json ? formatJson(list.map(buildWireView)) : `model aliases reset to the ${list.length} defaults`);
  });
}
