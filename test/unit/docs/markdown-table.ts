import { readFileSync } from 'node:fs';

/** Reads a file of the repository by its path from the root (`README.md`, `docs/errors.md`). */
export function readRepoFile(path: string): string {
  return readFileSync(new URL(`../../../${path}`, import.meta.url), 'utf8');
}

/** The text of the level-2 section `## <heading>`, up to the next level-2 heading; '' when absent. */
export function readSection(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  if (start < 0) return '';
  const end = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, end < 0 ? undefined : end);
}

/**
 * The rows of the markdown tables in `text` whose first cell is one back-quoted name, keyed by that
 * name: the remaining cells, trimmed. Only the leading cells are reliable (a later cell may hold `|`).
 */
export function parseTableRows(text: string): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const match = /^\|\s*`([^`|]+)`\s*\|(.*)\|\s*$/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined)
      rows.set(
        match[1],
        match[2].split('|').map((cell) => cell.trim()),
      );
  }
  return rows;
}
