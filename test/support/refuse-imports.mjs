// Loaded with `node --import` by test/e2e/cli-lazy-imports.test.ts: makes importing any package
// named in REFUSED_IMPORTS (comma-separated) fail, so a test can prove a command never loads it.
import { register } from 'node:module';

register(new URL('./refuse-imports-hooks.mjs', import.meta.url), { data: { refused: (process.env.REFUSED_IMPORTS ?? '').split(',').filter(Boolean) } });
