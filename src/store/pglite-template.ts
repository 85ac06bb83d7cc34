import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { extractUstar } from './ustar.js';

/**
 * The embedded database's first start from a shipped template. PGlite's own initdb runs PostgreSQL's
 * bootstrap in WASM: seconds of CPU, and the hundreds of MB of memory it touches stay resident for
 * the life of the process. The package instead ships the data directory that initdb makes, one per
 * PGlite version (`pgdata-pglite-<version>.tar.gz`, built by scripts/build-pglite-template.ts), and
 * a first start unpacks it: a fraction of a second, and no initdb memory. The template holds no
 * schema and no identity of ours: the migrations run after it, as on any first start.
 */

/** A file every PostgreSQL data directory holds: its presence means the embedded database exists. */
const PG_VERSION_FILE = 'PG_VERSION';

/** True when `pgdataDir` holds an initialised PostgreSQL data directory. Never creates anything. */
export function isPgliteDataDir(pgdataDir: string): boolean {
  return existsSync(join(pgdataDir, PG_VERSION_FILE));
}

/** The template's file name for a PGlite version: the version is the key, because a data directory only opens with the PostgreSQL build that made it. */
export function pgliteTemplateName(pgliteVersion: string): string {
  return `pgdata-pglite-${pgliteVersion}.tar.gz`;
}

/**
 * Finds the templates folder both from src/ (tsx, tests) and from dist/ after `npm run build` (which
 * copies it): next to this module first, else `<package root>/src/store/pglite-template`.
 */
export function resolvePgliteTemplateDir(moduleUrl: string = import.meta.url): string {
  const candidates = [fileURLToPath(new URL('./pglite-template/', moduleUrl)), fileURLToPath(new URL('../../src/store/pglite-template/', moduleUrl))];
  return candidates.find((dir) => existsSync(dir)) ?? candidates[0]!;
}

/** The installed PGlite's version (its package.json is not exported, so it is read beside the entry point). */
export function installedPgliteVersion(): string {
  let dir = dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite'));
  while (!existsSync(join(dir, 'package.json'))) {
    if (dirname(dir) === dir) throw new Error('cannot find the package.json of @electric-sql/pglite');
    dir = dirname(dir);
  }
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

/** How an embedded data directory came to be: unpacked from the template, or left for PGlite's initdb. */
export type PgliteSeed = 'template' | 'initdb';

/**
 * Makes `pgdataDir` an initialised data directory from the shipped template when it is not one yet.
 * The template is unpacked into a scratch folder beside it and renamed into place, so a crash midway
 * leaves no half directory that a later start would take for a database.
 * @returns `template` when it unpacked one, `initdb` when no template matches the installed PGlite
 *   (PGlite's own initdb then runs, slower but equivalent), null when the database already existed.
 */
export function seedPgliteDataDir(pgdataDir: string, templateDir = resolvePgliteTemplateDir()): PgliteSeed | null {
  if (isPgliteDataDir(pgdataDir)) return null;
  const template = join(templateDir, pgliteTemplateName(installedPgliteVersion()));
  if (!existsSync(template)) return 'initdb';
  const scratch = join(dirname(pgdataDir), `.${basename(pgdataDir)}.seed-${randomBytes(4).toString('hex')}`);
  mkdirSync(scratch, { recursive: true, mode: 0o700 });
  try {
    extractUstar(gunzipSync(readFileSync(template)), scratch);
    try {
      // Replaces an empty folder of that name too (rename(2) allows it).
      renameSync(scratch, pgdataDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      throw new Error(`${pgdataDir} exists but holds no database (no ${PG_VERSION_FILE}): move it away so a new one can be created`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return 'template';
}
