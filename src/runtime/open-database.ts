import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/config.js';
import { acquireDataDirLock } from '../store/dir-lock.js';
import type { Db } from '../store/db.js';
import type { PgliteSeed } from '../store/pglite-template.js';

/** The embedded database's folder inside the data directory. */
export const PGLITE_SUBDIR = 'pgdata';

export interface OpenedDatabase {
  db: Db;
  /**
   * Set when this open created the embedded database: `template` when it unpacked the shipped
   * template, `initdb` when no template matched the installed PGlite and PGlite ran initdb (seconds).
   */
  created?: PgliteSeed;
  /** Closes the database and, for the embedded one, releases the data-directory lock. */
  close(): Promise<void>;
}

/**
 * Opens Postgres when a URL is configured, else the embedded PGlite database in the data directory,
 * holding the directory's lock for as long as it is open (PGlite has no inter-process locking).
 * Each driver is imported only when chosen: both are large (PGlite is ~1 s to load on a busy
 * machine), and the CLI imports this module for commands that may never open a database.
 * @throws DataDirLockedError when another live process holds the data directory.
 */
export async function openDatabase(config: Config, onBackgroundError?: (err: Error) => void): Promise<OpenedDatabase> {
  if (config.databaseUrl) {
    const { createPgDb } = await import('../store/pg-db.js');
    const db = createPgDb({ url: config.databaseUrl, maxConnections: config.pgMaxConnections, onBackgroundError });
    return { db, close: () => db.close() };
  }
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const lock = await acquireDataDirLock(config.dataDir);
  try {
    const { openPgliteDb } = await import('../store/pglite-db.js');
    const { db, created } = await openPgliteDb({ dataDir: join(config.dataDir, PGLITE_SUBDIR) });
    return {
      db,
      ...(created ? { created } : {}),
      close: async () => {
        // The lock goes even when the close fails: this process is on its way out either way.
        try {
          await db.close();
        } finally {
          lock.release();
        }
      },
    };
  } catch (err) {
    lock.release();
    throw err;
  }
}
