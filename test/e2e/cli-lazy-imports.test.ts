import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { REPO_ROOT } from '../support/repo-root.js';

/**
 * The CLI loads the process runtime and the database drivers only in the commands that use them
 * (src/cli/process-commands.ts, src/runtime/open-database.ts): `--version` and `--help` answer in a
 * few hundred milliseconds instead of a second or more. Proven by running the CLI with those
 * packages made unloadable (test/support/refuse-imports.mjs).
 */
const HEAVY_PACKAGES = ['fastify', '@fastify/multipart', '@electric-sql/pglite', 'pg', 'undici', 'pino', 'prom-client', 'socks'];

function runRefusing(args: string[]) {
  const entry = inject('cliEntry') ?? join(REPO_ROOT, 'src', 'main.ts');
  const loader = entry.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const result = spawnSync(process.execPath, ['--import', join(REPO_ROOT, 'test', 'support', 'refuse-imports.mjs'), ...loader, entry, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, REFUSED_IMPORTS: HEAVY_PACKAGES.join(',') },
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('CLI start-up loads only what the command needs', () => {
  it.each([[['--version']], [['--help']], [['start', '--help']], [['keys', 'list', '--help']], [['usage', '--help']]])(
    '%j loads none of the runtime packages',
    (args) => {
      const result = runRefusing(args);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout.length).toBeGreaterThan(0);
    },
  );

  it('a command that opens Postgres does load its driver (the refusal is what fails it)', () => {
    const result = runRefusing(['keys', 'list', '--database-url', 'postgres://127.0.0.1:9/none']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('refused import: pg');
  });
});
