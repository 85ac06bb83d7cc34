import type { Command } from 'commander';
import type { Logger } from 'pino';
import { loadConfig } from '../config/config.js';
import { CONFIG_FIELDS, type ConfigKey } from '../config/fields.js';
import type { RunningProcess } from '../runtime/processes.js';

/**
 * The process runtime (Fastify, undici, PGlite or pg, pino, prom-client), imported by the action that
 * runs a process rather than with the command line: `--version`, `--help` and the data commands
 * never load it.
 */
const loadRuntime = async () => {
  const [processes, appLogger] = await Promise.all([import('../runtime/processes.js'), import('../observe/app-logger.js')]);
  return { ...processes, createAppLogger: appLogger.createAppLogger };
};

/** Flags each process command takes (the CONFIG_FIELDS rows that have one). */
const PROCESS_FLAGS = {
  start: ['databaseUrl', 'dataDir', 'listen', 'adminListen', 'advertiseUrl', 'masterKeyFile', 'logDir'],
  serve: ['databaseUrl', 'dataDir', 'listen', 'advertiseUrl', 'masterKeyFile', 'logDir'],
  control: ['databaseUrl', 'dataDir', 'adminListen', 'masterKeyFile'],
} as const satisfies Record<string, readonly ConfigKey[]>;

function addConfigFlags(cmd: Command, keys: readonly ConfigKey[]): Command {
  for (const key of keys) {
    const field = CONFIG_FIELDS[key];
    if (!('flag' in field)) continue;
    const shown = field.default === null ? '' : ` (default ${JSON.stringify(field.default)}; env ${field.env})`;
    cmd.option(`${field.flag} <value>`, `${field.doc}${shown || ` (env ${field.env})`}`);
  }
  return cmd;
}

/**
 * Keeps a process running until SIGTERM or SIGINT, then stops it gracefully: the servers stop
 * accepting, in-flight generations finish (up to SHUTDOWN_GRACE_MS), usage and logs are flushed.
 * A second signal exits at once. The handlers are installed before start-up finishes (a signal
 * that arrives right after the "started" line must not find Node's default, which kills at once):
 * a signal during start-up stops the process as soon as it is up.
 */
function holdUntilSignal(startup: Promise<RunningProcess>, logger: Logger): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      // A second signal means "now": in-flight requests are cut and unflushed usage is lost.
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    startup
      .then((running) => running.stop())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err: String(err) }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** Registers `start`, `serve` and `control`. */
export function registerProcessCommands(program: Command): void {
  addConfigFlags(
    program.command('start').description('run the gateway and the admin API in one process (embedded database unless DATABASE_URL is set)'),
    PROCESS_FLAGS.start,
  ).action(async (flags: Partial<Record<ConfigKey, string>>) => {
    const config = loadConfig(process.env, flags);
    const { runStart, createAppLogger } = await loadRuntime();
    const startup = runStart(config);
    holdUntilSignal(startup, createAppLogger(config.logLevel));
    await startup;
  });
  addConfigFlags(
    program.command('serve').description('run the public image API only (data plane; needs Postgres, never migrates)'),
    PROCESS_FLAGS.serve,
  ).action(async (flags: Partial<Record<ConfigKey, string>>) => {
    const config = loadConfig(process.env, flags);
    const { runServe, createAppLogger } = await loadRuntime();
    const startup = runServe(config);
    holdUntilSignal(startup, createAppLogger(config.logLevel));
    await startup;
  });
  addConfigFlags(program.command('control').description('run the admin API only (control plane)'), PROCESS_FLAGS.control)
    .option('--migrate', 'apply database migrations before starting')
    .action(async (flags: Partial<Record<ConfigKey, string>> & { migrate?: boolean }) => {
      const { migrate, ...rest } = flags;
      const config = loadConfig(process.env, rest);
      const { runControl, createAppLogger } = await loadRuntime();
      const startup = runControl(config, { migrate: migrate === true });
      holdUntilSignal(startup, createAppLogger(config.logLevel));
      await startup;
    });
}
