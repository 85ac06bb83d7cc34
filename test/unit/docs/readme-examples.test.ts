import { describe, expect, it } from 'vitest';
import { readRepoFile } from './markdown-table.js';

/** The shell lines of README's `sh` blocks, with continuation lines joined. */
function shellCommands(markdown: string): string[] {
  const blocks = [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  return blocks.flatMap((block) => block.replace(/\\\n\s*/g, ' ').split('\n')).filter((line) => line.trim() !== '' && !line.trim().startsWith('#'));
}

describe('README shell examples fail visibly', () => {
  const commands = shellCommands(readRepoFile('README.md'));

  it('finds the curl examples', () => {
    expect(commands.filter((c) => c.includes('curl ')).length).toBeGreaterThanOrEqual(8);
  });

  it('every curl fails on an HTTP error and still shows the body (--fail-with-body)', () => {
    for (const command of commands.filter((c) => /\bcurl\b/.test(c))) expect(command, command).toContain('--fail-with-body');
  });

  it('every jq that extracts an image fails on a missing image (-e) and says why', () => {
    for (const command of commands.filter((c) => /\bjq\b/.test(c))) {
      expect(command, command).toMatch(/\bjq -e/);
      expect(command, command).toContain('error(.error.message)');
    }
  });

  it('pipelines that decode an image run with pipefail', () => {
    const text = readRepoFile('README.md');
    expect(text.indexOf('set -o pipefail')).toBeGreaterThan(-1);
    expect(text.indexOf('set -o pipefail')).toBeLessThan(text.indexOf('| base64 -d'));
  });
});
