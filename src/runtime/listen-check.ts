import { createServer } from 'node:net';
import { ConfigError, parseListenAddress } from '../config/config.js';
import { CONFIG_FIELDS } from '../config/fields.js';

/** The settings that name an address a process listens on. */
export type ListenKey = 'listen' | 'adminListen';

/** How a setting is spelled for the operator: its flag and its environment variable (from CONFIG_FIELDS). */
function settingName(key: ListenKey): string {
  const field = CONFIG_FIELDS[key];
  return `${field.flag} (env ${field.env})`;
}

/** The one line for an address another process already holds: which setting, and how to change it. */
export function addressInUseError(key: ListenKey, address: string): ConfigError {
  return new ConfigError(`${address} is already in use: stop what listens there or pick another address with ${settingName(key)}`);
}

/** True for the error Node gives when an address is taken. */
export function isAddressInUse(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'EADDRINUSE';
}

/** Binds and releases `host:port` once: resolves when it could be bound, rejects with Node's error. */
function probe(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()));
  });
}

/**
 * Checks, before anything is created on disk, that each configured address can be bound (port 0,
 * an ephemeral port, always can). A taken one fails in one line naming its flag and variable.
 * The check is advisory (another process may take the port in between); listening maps the same
 * error to the same line.
 */
export async function assertAddressesFree(addresses: ReadonlyArray<readonly [ListenKey, string]>): Promise<void> {
  for (const [key, address] of addresses) {
    const { host, port } = parseListenAddress(CONFIG_FIELDS[key].flag, address);
    if (port === 0) continue;
    try {
      await probe(host, port);
    } catch (err) {
      if (isAddressInUse(err)) throw addressInUseError(key, address);
      throw err;
    }
  }
}
