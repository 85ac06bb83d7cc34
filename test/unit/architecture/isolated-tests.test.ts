import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../support/repo-root.js';

/** Every test file below test/, as a path from the repository root. */
function listTestFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return listTestFiles(path);
    return entry.name.endsWith('.test.ts') ? [relative(REPO_ROOT, path)] : [];
  });
}

describe('test isolation (vitest.config.ts)', () => {
  it('a file that replaces modules with vi.mock is named *.isolated.test.ts: the shared-cache projects would leak its mock into other files', () => {
    const files = listTestFiles(join(REPO_ROOT, 'test'));
    expect(files.length).toBeGreaterThan(100);
    const mocking = files.filter((file) => /\bvi\.mock\(/.test(readFileSync(join(REPO_ROOT, file), 'utf8')));
    expect(mocking.length).toBeGreaterThan(0);
    expect(mocking.filter((file) => !file.endsWith('.isolated.test.ts'))).toEqual([]);
  });
});
