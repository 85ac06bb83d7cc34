/**
 * The CLI as one esbuild bundle of src/ (packages stay external, loaded from node_modules), built
 * once per test run so that each CLI process a test spawns starts without tsx, whose loader
 * resolves and transforms about 200 modules on every start (about a second per process here, and
 * the suite spawns hundreds). It is the same source through the same compiler tsx uses. The
 * bundle sits two folders below the repository root, as src/main.ts and dist/main.js do, so the
 * paths the code derives from import.meta.url (package.json, the migrations, web/dist) resolve
 * to the same files.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import { REPO_ROOT } from './repo-root.js';

/** A built bundle: the file to run with `node`, and how to remove it. */
export interface CliBundle {
  entry: string;
  remove(): Promise<void>;
}

/** Bundles src/main.ts into a fresh folder under test-output/ (one per run: runs may overlap). */
export async function buildCliBundle(): Promise<CliBundle> {
  const outdir = join(REPO_ROOT, 'test-output', `cli-${process.pid}-${randomBytes(3).toString('hex')}`);
  await build({
    entryPoints: [join(REPO_ROOT, 'src', 'main.ts')],
    outdir,
    bundle: true,
    // Separate chunks keep the CLI's lazy imports lazy: `--help` must not load the runtime's packages.
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    outExtension: { '.js': '.mjs' },
    logLevel: 'warning',
  });
  return { entry: join(outdir, 'main.mjs'), remove: () => rm(outdir, { recursive: true, force: true }) };
}
