import { defineConfig } from 'vitest/config';

/** Files that replace modules with `vi.mock`: only a fresh module cache per file keeps the mock to them. */
const ISOLATED = 'test/**/*.isolated.test.ts';

export default defineConfig({
  test: {
    pool: 'forks',
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores, but most integration files spend their time waiting on the processes they start
    // (servers, databases, browsers): a third worker fills that wait (about 175 s → 160 s for the
    // suite) without starving them.
    maxWorkers: 3,
    projects: [
      {
        extends: true,
        test: {
          name: 'in-process',
          include: ['test/unit/**/*.test.ts', 'test/http/**/*.test.ts', 'test/store/**/*.test.ts', 'test/coord/**/*.test.ts'],
          exclude: [ISOLATED],
          // These files share one worker's module cache instead of a fresh process each (about
          // half their time went to starting processes and importing modules). They keep no state
          // across files: each builds its own apps, databases and temporary folders and removes them.
          isolate: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'processes',
          include: ['test/e2e/**/*.test.ts', 'test/browser/**/*.test.ts', 'test/deploy/**/*.test.ts'],
          exclude: [ISOLATED],
          // The same for the files that start real processes (their state is in those processes,
          // which each file stops): importing the SDKs, undici and the harness once per worker
          // instead of once per file saved about a fifth of this project's time.
          isolate: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'isolated',
          include: [ISOLATED],
        },
      },
    ],
  },
});
