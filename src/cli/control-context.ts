import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ControlApi } from '../control/control-api.js';
import { createAdminClient } from '../control/admin-client.js';
import { createControlServices } from '../control/control-services.js';
import type { CredentialCipher } from '../control/credential-cipher.js';
import { ADMIN_TOKEN_FILE, readInstanceFile } from '../control/instance-file.js';
import { resolveMasterKeyInUse, verifyMasterKey } from '../control/master-key-gate.js';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { GatewayError } from '../errors/codes.js';
import { openDatabase, PGLITE_SUBDIR, type OpenedDatabase } from '../runtime/open-database.js';
import { readDataDirLock } from '../store/dir-lock.js';
import { isPgliteDataDir } from '../store/pglite-template.js';
import type { Db } from '../store/db.js';
import { verifySchema } from '../store/migrator.js';

/** How a command reached the control data. */
export type ControlMode = 'postgres' | 'embedded' | 'instance';

/** An open path to control data; `close()` releases the database and the data-directory lock. */
export interface ControlContext {
  api: ControlApi;
  mode: ControlMode;
  close(): Promise<void>;
}

/** Flags the data commands share (commander's camelCase names match CONFIG_FIELDS keys). */
export interface ControlFlags {
  dataDir?: string;
  databaseUrl?: string;
  masterKeyFile?: string;
}

/** The CLI's pool is small: one command, a few queries. */
const CLI_PG_CONNECTIONS = 2;

/** The configuration of a data command: its flags, then the environment, then defaults (loadConfig). */
export function resolveCommandConfig(flags: ControlFlags, env: NodeJS.ProcessEnv = process.env): Config {
  const config = loadConfig(env, { dataDir: flags.dataDir, databaseUrl: flags.databaseUrl, masterKeyFile: flags.masterKeyFile });
  return { ...config, pgMaxConnections: CLI_PG_CONNECTIONS };
}

/** True when the data directory holds an embedded database (`start` created it). Never creates anything. */
export function hasEmbeddedDatabase(dataDir: string): boolean {
  return isPgliteDataDir(join(dataDir, PGLITE_SUBDIR));
}

/**
 * The one line a data command fails with when it finds no data: where it looked and what to pass.
 * Data commands never create a database; only `start` does.
 */
export function noDataFoundError(config: Config): ConfigError {
  return new ConfigError(
    `no gateway data found: ${resolve(config.dataDir)} has no running instance and no database, and DATABASE_URL is not set; ` +
      "pass --data-dir <the gateway's data directory>, set DATABASE_URL (or --database-url), or run `codex-image-gateway start` first",
  );
}

/** True when instance.json names a live process: a `start` (on Postgres it holds no directory lock) is running here. */
async function hasLiveInstanceFile(dataDir: string): Promise<boolean> {
  const instance = await readInstanceFile(dataDir);
  if (instance === null) return false;
  try {
    process.kill(instance.pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: unknown }).code === 'EPERM';
  }
}

/**
 * Opens the control data that already exists, the way the situation calls for: `--database-url` →
 * Postgres directly (schema verified, never migrated implicitly); a data directory used by a running
 * `start` (its lock, or instance.json naming a live process) → its admin API (instance.json + admin
 * token); a data directory holding an embedded database → that database, under the directory lock.
 * Anything else fails in one line (noDataFoundError): nothing is created. Commands never see which.
 */
export async function openControl(config: Config): Promise<ControlContext> {
  if (config.databaseUrl === null) {
    if (readDataDirLock(config.dataDir) !== null || (await hasLiveInstanceFile(config.dataDir))) return openInstanceControl(config);
    if (!hasEmbeddedDatabase(config.dataDir)) throw noDataFoundError(config);
  }
  const opened: OpenedDatabase = await openDatabase(config);
  try {
    await verifySchema(opened.db);
    // No gateway process is running to log an audited action: the command writes the app-log line itself, on stderr.
    const { createAppLogger } = await import('../observe/app-logger.js');
    const audit = createAppLogger(config.logLevel, process.stderr);
    const api = createControlServices({ db: opened.db, cipher: await resolveCommandCipher(opened.db, config), audit });
    return { api, mode: config.databaseUrl === null ? 'embedded' : 'postgres', close: opened.close };
  } catch (err) {
    await opened.close();
    throw err;
  }
}

/**
 * The credential cipher for a command: the same rule as the processes (resolveConfiguredMasterKey),
 * but a command never creates a key (only `start` does); every data command stores the key check.
 * When no usable key is configured, or the key does not match the database (verifyMasterKey),
 * commands that need no cipher (keys, groups) still work and the others fail in one line.
 */
async function resolveCommandCipher(db: Db, config: Config): Promise<CredentialCipher> {
  try {
    const key = await resolveMasterKeyInUse(config, false);
    // Data commands seal credentials (accounts import), so they store the check like any writer.
    await verifyMasterKey(db, key, { writer: true });
    return key.cipher;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const refuse = (): never => {
      throw err;
    };
    return { encrypt: refuse, decrypt: refuse, deriveKey: refuse };
  }
}

async function openInstanceControl(config: Config): Promise<ControlContext> {
  const instance = await readInstanceFile(config.dataDir);
  if (instance === null) {
    const message = `data directory ${config.dataDir} is held by a running instance that has not written instance.json yet; try again in a moment`;
    throw new GatewayError('not_ready', message);
  }
  const token = config.adminToken ?? (await readAdminTokenFile(config.dataDir));
  return { api: createAdminClient({ baseUrl: instance.adminUrl, token }), mode: 'instance', close: async () => undefined };
}

/** Reads the token a running instance created; never creates one (that is the instance's job). */
async function readAdminTokenFile(dataDir: string): Promise<string> {
  const path = join(dataDir, ADMIN_TOKEN_FILE);
  const token = await readFile(path, 'utf8').then(
    (t) => t.trim(),
    () => '',
  );
  if (token === '') throw new ConfigError(`no admin token: set ADMIN_TOKEN or make ${path} readable`);
  return token;
}

/** Opens the control data for one command, runs it, and always closes (releasing the lock). */
export async function withControl<T>(flags: ControlFlags, fn: (api: ControlApi) => Promise<T>): Promise<T> {
  const ctx = await openControl(resolveCommandConfig(flags));
  try {
    return await fn(ctx.api);
  } finally {
    await ctx.close();
  }
}
