import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../architecture/import-graph.js';
import { readRepoFile, readSection } from './markdown-table.js';

/**
 * The rooms block of docs/architecture.md (the code block under "Rooms"), split into one entry per
 * src/ folder: the entry's text is its line and the more-indented lines after it.
 */
function readRoomEntries(): Map<string, string> {
  const section = readSection(readRepoFile('docs/architecture.md'), 'Rooms (folders) and what lives in each');
  const block = section.slice(section.indexOf('```') + 3, section.lastIndexOf('```'));
  const entries = new Map<string, string>();
  let current: string | null = null;
  for (const line of block.split('\n')) {
    const start = /^ {2}([a-z]+)\/\s/.exec(line);
    if (start?.[1] !== undefined) current = start[1];
    else if (!/^ {4,}/.test(line)) current = null;
    if (current !== null) entries.set(current, `${entries.get(current) ?? ''} ${line}`);
  }
  return entries;
}

const SRC = join(REPO_ROOT, 'src');
const ROOMS = readdirSync(SRC, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();
const ENTRIES = readRoomEntries();

/** Source files anywhere under `dir` (a room's subfolders such as admin/routes included), by base name. */
function listNames(dir: string): Set<string> {
  const names = new Set<string>();
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && /\.tsx?$/.test(entry.name)) names.add(entry.name);
  }
  return names;
}

describe('docs/architecture.md names every file of every room', () => {
  it('has an entry for each src/ folder and none for a folder that does not exist', () => {
    expect([...ENTRIES.keys()].sort().join(', ')).toBe(ROOMS.join(', '));
  });

  it.each(ROOMS)('src/%s: every file directly in the folder is named in its entry', (room) => {
    const text = ENTRIES.get(room) ?? '';
    const files = readdirSync(join(SRC, room)).filter((name) => /\.tsx?$/.test(name));
    const unnamed = files.filter((name) => !new RegExp(`(^|[^a-z0-9-])${name.replace(/\./g, '\\.')}`).test(text));
    expect(unnamed.join(', '), 'files missing from the entry').toBe('');
  });

  it.each(ROOMS)('src/%s: every file its entry names exists', (room) => {
    const text = ENTRIES.get(room) ?? '';
    const own = listNames(join(SRC, room));
    const missing = [...text.matchAll(/(?:([a-z]+)\/)?([a-z0-9-]+\.tsx?)\b/g)].filter(([, other, name = '']) =>
      other !== undefined && ROOMS.includes(other) ? !existsSync(join(SRC, other, name)) : !own.has(name),
    );
    expect(missing.map(([match]) => match).join(', '), 'names of files that do not exist').toBe('');
  });
});
