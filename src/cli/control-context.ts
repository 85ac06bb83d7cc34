import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ControlApi } from '../control/control-api.js';
import { createAdminClient } from '../control/admin-client.js';
import { createControlServices } from '../control/control-services.js';
import type { CredentialCipher } from '../control/credential-cipher.js';
import { ADMIN_TOKEN_FILE, readInstanceFile } from '../control/instance-file.js';
import { resolveMasterKeyInUse, verifyMasterKey } from '../control/master-key-gate.js';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { GatewayError } from '../errors/codes.js';
import { openDatabase, type OpenedDatabase } from '../runtime/open-database.js';
import { readDataDirLock } from '../store/data-dir-lock.js';
import type { Db } from '../store/db.js';
import { migrate, migrationStatus, verifySchema } from '../store/migrator.js';

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

/** Where notes for humans go (stderr): never data, never a secret. */
export type Notify = (line: string) => void;

/** The CLI's pool is small: one command, a few queries. */
const CLI_PG_CONNECTIONS = 2;

const notifyStderr: Notify = (line) => void process.stderr.write(`${line}\n`);

/** The configuration of a data command: its flags, then the environment, then defaults (loadConfig). */
export function resolveCommandConfig(flags: ControlFlags, env: NodeJS.ProcessEnv = process.env): Config {
  const config = loadConfig(env, { dataDir: flags.dataDir, databaseUrl: flags.databaseUrl, masterKeyFile: flags.masterKeyFile });
  return { ...config, pgMaxConnections: CLI_PG_CONNECTIONS };
}

/** Applies every migration to an embedded database that has none yet (a fresh data directory), saying so. */
async function migrateIfFresh(db: Db, config: Config, notify: Notify): Promise<void> {
  const status = await migrationStatus(db);
  if (status.some((m) => m.applied)) return;
  notify(`initialising a new embedded database in ${config.dataDir}`);
  await migrate(db);
}

/**
 * Opens the control data the way the situation calls for: `--database-url` → Postgres directly
 * (schema verified first, never migrated implicitly); a data directory held by a running instance →
 * its admin API (instance.json + admin token); else the embedded database directly, under the
 * directory lock, migrated if it is brand new. Commands never see which.
 */
export async function openControl(config: Config, notify: Notify = notifyStderr): Promise<ControlContext> {
  if (config.databaseUrl === null && readDataDirLock(config.dataDir) !== null) return openInstanceControl(config);
  const opened: OpenedDatabase = await openDatabase(config);
  try {
    if (config.databaseUrl === null) await migrateIfFresh(opened.db, config, notify);
    await verifySchema(opened.db);
    const api = createControlServices({ db: opened.db, cipher: await resolveCommandCipher(opened.db, config) });
    return { api, mode: config.databaseUrl === null ? 'embedded' : 'postgres', close: opened.close };
  } catch (err) {
    await opened.close();
    throw err;
  }
}

/**
 * The credential cipher for a command: the same rule as the processes (resolveConfiguredMasterKey);
 * the embedded CLI may create the data directory's key, as `start` would, and every data command stores the key check.
 * When no usable key is configured, or the key does not match the database (verifyMasterKey),
 * commands that need no cipher (keys, groups) still work and the others fail in one line.
 */
async function resolveCommandCipher(db: Db, config: Config): Promise<CredentialCipher> {
  try {
    const key = await resolveMasterKeyInUse(config, config.databaseUrl === null);
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
  const token = await readFile(path, 'utf8').then((t) => t.trim(), () => '');
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
