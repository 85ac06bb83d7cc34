/**
 * Builds the embedded database's template (`npm run build:pglite-template`): the data directory
 * PGlite's initdb makes for the installed PGlite version, packed as
 * src/store/pglite-template/pgdata-pglite-<version>.tar.gz, which a first `start` unpacks instead of
 * running initdb (src/store/pglite-template.ts). Run it after upgrading @electric-sql/pglite and
 * commit the result; test/store/pglite-template.test.ts fails until then. Needs GNU tar and gzip.
 *
 * Beyond a plain initdb the template drops the template0 and template1 databases: they only serve
 * CREATE DATABASE, which the embedded database never runs, and they are two thirds of its files.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { EMBEDDED_INITDB_PARAMS, embeddedStartParams } from '../src/store/pglite-db.js';
import { installedPgliteVersion, pgliteTemplateName, resolvePgliteTemplateDir } from '../src/store/pglite-template.js';

const version = installedPgliteVersion();
const outDir = resolvePgliteTemplateDir();
const scratch = mkdtempSync(join(tmpdir(), 'cig-pglite-template-'));
const pgdata = join(scratch, 'pgdata');
try {
  const pglite = await PGlite.create({ dataDir: pgdata, initDbStartParams: EMBEDDED_INITDB_PARAMS, startParams: embeddedStartParams() });
  await pglite.exec("UPDATE pg_database SET datistemplate = false WHERE datname IN ('template0', 'template1')");
  await pglite.exec('DROP DATABASE template0');
  await pglite.exec('DROP DATABASE template1');
  await pglite.exec('CHECKPOINT');
  await pglite.close();

  for (const old of readdirSync(outDir).filter((name) => name.startsWith('pgdata-pglite-'))) rmSync(join(outDir, old));
  const out = join(outDir, pgliteTemplateName(version));
  // ustar (what src/store/ustar.ts reads), sorted, with fixed owners and times so only content varies.
  const tar = ['--format=ustar', '--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mode=go-rwx', '--mtime=@0', '-C', pgdata, '-cf', '-', '.'];
  execFileSync('bash', ['-c', 'tar "$@" | gzip -9n > "$OUT"', 'tar', ...tar], { env: { ...process.env, OUT: out }, stdio: 'inherit' });
  console.log(`wrote ${out} (${statSync(out).size} bytes) for PGlite ${version}`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
