/**
 * The migrated PGlite template: a new embedded database is made from the product's shipped template
 * (src/store/pglite-template.ts, a fraction of a second) and then needs every migration (about a
 * second more), while copying a migrated directory costs a fraction of that. The template is built
 * once per machine and reused across runs, keyed by everything its contents depend on (the shipped
 * template's bytes and the migrations' checksums), so a new migration or a PGlite upgrade builds a
 * fresh one by itself. Tests that need an empty, unmigrated database open a new directory with
 * `createPgliteDb`, which takes the product's own first-start path.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, utimesSync } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PGLITE_SUBDIR } from '../../src/runtime/open-database.js';
import type { Db } from '../../src/store/db.js';
import { installedPgliteVersion, pgliteTemplateName, resolvePgliteTemplateDir } from '../../src/store/pglite-template.js';
import { REPO_ROOT } from './repo-root.js';
import { MIGRATIONS, migrate, type Migration } from '../../src/store/migrator.js';

/** Bumped when what a template holds changes in a way the key below does not capture. */
const TEMPLATE_FORMAT = 2;

/** Templates older than this, under other keys, are left-overs of earlier migrations or PGlite versions. */
const STALE_TEMPLATE_MS = 24 * 60 * 60 * 1000;

/** Where templates live: the usual cache folder, kept across runs, removed with node_modules. */
export const PGLITE_TEMPLATE_ROOT = join(REPO_ROOT, 'node_modules', '.cache', 'codex-image-gateway', 'pglite-templates');

/** The cache key of the migrated template: a digest of everything its files depend on. */
export function resolveTemplateKey(migrations: readonly Migration[] = MIGRATIONS): string {
  const version = installedPgliteVersion();
  const shipped = join(resolvePgliteTemplateDir(), pgliteTemplateName(version));
  const hash = createHash('sha256').update(`format ${TEMPLATE_FORMAT}\npglite ${version}\n`);
  // Without a shipped template PGlite runs initdb, whose output depends on the version alone.
  if (existsSync(shipped)) hash.update(readFileSync(shipped));
  for (const m of migrations) hash.update(`${m.name} ${m.checksum}\n`);
  return `migrated-${hash.digest('hex').slice(0, 16)}`;
}

const building = new Map<string, Promise<string>>();

/**
 * The directory of a ready template, building it when missing. Safe to call from several processes
 * at once: each builds into its own scratch directory and renames it into place, and a process that
 * loses the race throws its copy away.
 */
export function ensurePgliteTemplate(): Promise<string> {
  const key = resolveTemplateKey();
  let ready = building.get(key);
  if (!ready) {
    ready = buildTemplate(key);
    building.set(key, ready);
    ready.catch(() => building.delete(key));
  }
  return ready;
}

async function buildTemplate(key: string): Promise<string> {
  const target = join(PGLITE_TEMPLATE_ROOT, key);
  if (existsSync(target)) {
    markUsed(target);
    return target;
  }
  await mkdir(PGLITE_TEMPLATE_ROOT, { recursive: true });
  const scratch = join(PGLITE_TEMPLATE_ROOT, `.${key}.${randomBytes(4).toString('hex')}`);
  try {
    // Imported here: the module is large, and most callers only copy a template that exists.
    const { createPgliteDb } = await import('../../src/store/pglite-db.js');
    const db = await createPgliteDb({ dataDir: scratch });
    try {
      await migrate(db);
    } finally {
      await db.close();
    }
    await rename(scratch, target).catch((err: unknown) => {
      if (!existsSync(target)) throw err; // another process finished first: use its copy
    });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  await pruneStaleTemplates();
  return target;
}

/** Stamps a template as used now, so pruning (by age of last use) spares it. */
function markUsed(dir: string): void {
  const now = new Date();
  utimesSync(dir, now, now);
}

/** Removes templates no run has used for a day (other keys, and scratch directories of crashed builds). */
async function pruneStaleTemplates(): Promise<void> {
  const now = Date.now();
  for (const name of readdirSync(PGLITE_TEMPLATE_ROOT)) {
    const path = join(PGLITE_TEMPLATE_ROOT, name);
    if (now - statSync(path).mtimeMs > STALE_TEMPLATE_MS) await rm(path, { recursive: true, force: true });
  }
}

/** Makes `dataDir` (which must not exist yet) a PGlite data directory with every migration applied. */
export async function copyPgliteTemplate(dataDir: string): Promise<void> {
  if (existsSync(dataDir)) throw new Error(`copyPgliteTemplate: ${dataDir} already exists`);
  await copyTree(await ensurePgliteTemplate(), dataDir);
}

/** Opens a new PGlite database in `dataDir` (which must not exist) with every migration already applied. */
export async function openMigratedPglite(dataDir: string): Promise<Db> {
  await copyPgliteTemplate(dataDir);
  const { createPgliteDb } = await import('../../src/store/pglite-db.js');
  return createPgliteDb({ dataDir });
}

/**
 * Gives a gateway data directory (created if missing) the migrated embedded database that `start`
 * would have made, so `start` opens it instead of creating it.
 */
export async function seedEmbeddedDatabase(gatewayDataDir: string): Promise<void> {
  await mkdir(gatewayDataDir, { recursive: true, mode: 0o700 });
  await copyPgliteTemplate(join(gatewayDataDir, PGLITE_SUBDIR));
}

/**
 * Copies a directory tree of plain files, all files at once. Several times faster here than Node
 * 20's `fs.cp`, which checks each entry at length; a data directory holds about a thousand files.
 */
async function copyTree(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  const entries = await readdir(from, { withFileTypes: true });
  await Promise.all(entries.map((e) => (e.isDirectory() ? copyTree(join(from, e.name), join(to, e.name)) : copyFile(join(from, e.name), join(to, e.name)))));
}
