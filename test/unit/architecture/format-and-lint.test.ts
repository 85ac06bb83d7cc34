import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));

describe('formatting and lint rules (biome.jsonc)', () => {
  it('the whole tree is formatted and lint-clean: run `npm run format` to fix formatting', () => {
    const run = spawnSync(process.execPath, ['node_modules/@biomejs/biome/bin/biome', 'ci', '--reporter=summary', '--error-on-warnings', '.'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(run.error).toBeUndefined();
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
  });
});
