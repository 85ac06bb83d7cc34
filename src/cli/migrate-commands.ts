import type { Command } from 'commander';
import { buildWireView } from '../control/admin-wire.js';
import { GatewayError } from '../errors/codes.js';
import { DataDirLockedError } from '../store/dir-lock.js';
import { migrate, migrationStatus } from '../store/migrator.js';
import { openDatabase, type OpenedDatabase } from '../runtime/open-database.js';
import { hasEmbeddedDatabase, noDataFoundError, resolveCommandConfig } from './control-context.js';
import { addDataOptions, type DataCommandFlags } from './control-options.js';
import { formatJson, formatTable, writeOut } from './print.js';

/**
 * Opens the database for `migrate`: Postgres, or an embedded database that exists (never a new one);
 * a directory held by a running instance is refused (it migrated itself at start).
 */
async function openForMigrate(flags: DataCommandFlags): Promise<OpenedDatabase> {
  const config = resolveCommandConfig(flags);
  if (config.databaseUrl === null && !hasEmbeddedDatabase(config.dataDir)) throw noDataFoundError(config);
  try {
    return await openDatabase(config);
  } catch (err) {
    if (!(err instanceof DataDirLockedError)) throw err;
    const message = `data directory ${err.dataDir} is in use by a running instance (pid ${err.pid}), which migrated it at start; stop it to migrate by hand`;
    throw new GatewayError('conflict', message, null, { cause: err });
  }
}

async function withDatabase<T>(flags: DataCommandFlags, fn: (ctx: OpenedDatabase) => Promise<T>): Promise<T> {
  const ctx = await openForMigrate(flags);
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

/**
 * Registers `migrate` (= `migrate apply`, every pending migration) and `migrate status`. `apply` is
 * the default subcommand so the flags live on the leaves only (a parent's flags would swallow them).
 */
export function registerMigrateCommands(program: Command): void {
  const migrateCmd = program.command('migrate').description('apply (default) or list database migrations');

  addDataOptions(migrateCmd.command('apply', { isDefault: true }).description('apply pending migrations (Postgres or the embedded database)')).action(
    async (flags: DataCommandFlags) => {
      const applied = await withDatabase(flags, (ctx) => migrate(ctx.db));
      if (flags.json) writeOut(formatJson({ applied }));
      else writeOut(applied.length === 0 ? 'database schema is up to date' : applied.map((name) => `applied ${name}`).join('\n'));
    },
  );

  addDataOptions(migrateCmd.command('status').description('list migrations and whether each is applied')).action(async (flags: DataCommandFlags) => {
    const states = await withDatabase(flags, (ctx) => migrationStatus(ctx.db));
    if (flags.json) return writeOut(formatJson(states.map(buildWireView)));
    const rows = states.map((s) => [String(s.version), s.name, s.applied ? 'yes' : 'no', s.appliedAt === null ? '-' : new Date(s.appliedAt).toISOString()]);
    writeOut(formatTable(['VERSION', 'NAME', 'APPLIED', 'APPLIED_AT'], rows));
  });
}
