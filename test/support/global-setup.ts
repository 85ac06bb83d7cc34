import type { TestProject } from 'vitest/node';
import { buildCliBundle } from './cli-bundle.js';
import { ensurePgliteTemplate } from './pglite-template.js';
import { findPostgresBinDir, startPostgresCluster } from './postgres.js';
import { useMemoryScratchRoot } from './scratch-root.js';

/**
 * Runs once before any test file: builds (or finds cached) the migrated PGlite template, so the workers
 * copy it instead of racing to build the same one; bundles the CLI that tests spawn; and starts
 * the Postgres cluster that every file's databases live on (when Postgres is installed). First of
 * all it moves the run's scratch files to memory when it can (scratch-root.ts). Returns the teardown.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const removeScratchRoot = useMemoryScratchRoot();
  const [bundle, postgres] = await Promise.all([buildCliBundle(), findPostgresBinDir() ? startPostgresCluster() : null, ensurePgliteTemplate()]);
  project.provide('cliEntry', bundle.entry);
  if (postgres) project.provide('sharedPostgresUrl', postgres.url);
  return async () => {
    await postgres?.stop();
    await bundle.remove();
    removeScratchRoot?.();
  };
}
