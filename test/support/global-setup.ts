import type { TestProject } from 'vitest/node';
import { buildCliBundle } from './cli-bundle.js';
import { ensurePgliteTemplate } from './pglite-template.js';

/**
 * Runs once before any test file: builds (or finds cached) the PGlite templates, so the workers
 * copy them instead of racing to build the same one, and bundles the CLI that tests spawn.
 * Returns the teardown, which removes the bundle.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [bundle] = await Promise.all([buildCliBundle(), ensurePgliteTemplate('migrated')]);
  project.provide('cliEntry', bundle.entry);
  return () => bundle.remove();
}
