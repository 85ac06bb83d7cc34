import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTableRows, readRepoFile, readSection } from '../docs/markdown-table.js';
import { buildImportEdges, findCycles, listSourceFiles, readImports, REPO_ROOT, type ImportEdge } from './import-graph.js';

/**
 * The layering lives in one place, the table of docs/architecture.md's "Layering" section: a room
 * (a folder of src/, `main.ts`, or `web` for the console's web/src) may import only rooms on a lower
 * layer. Type-only imports count like any other: a type is the other room's vocabulary, and shared
 * vocabulary belongs in the lower room, not sideways or upwards.
 */
const LAYER_ROWS = parseTableRows(readSection(readRepoFile('docs/architecture.md'), 'Layering'));
const LAYERS = new Map([...LAYER_ROWS].map(([room, [layer]]) => [room, Number(layer)]));

const FILES = [...listSourceFiles('src'), ...listSourceFiles('web/src')];
const EDGES = buildImportEdges(FILES);

/** The room a file belongs to: its folder under src/, `main.ts` for the entry, `web` for the console. */
function roomOf(path: string): string {
  if (path.startsWith('web/src/')) return 'web';
  return path.split('/')[1] ?? path;
}

const describeEdge = (e: ImportEdge): string =>
  `${e.from} (${roomOf(e.from)}, layer ${LAYERS.get(roomOf(e.from))}) imports ${e.to} (${roomOf(e.to)}, layer ${LAYERS.get(roomOf(e.to))})`;

describe('the layering table in docs/architecture.md', () => {
  it('has a row with a whole-number layer for every room, and none for a room that does not exist', () => {
    const rooms = [...readdirSync(join(REPO_ROOT, 'src'), { withFileTypes: true })]
      .map((entry) => entry.name)
      .filter((name) => !name.endsWith('.md'))
      .concat('web')
      .sort();
    expect([...LAYERS.keys()].sort()).toEqual(rooms);
    for (const [room, layer] of LAYERS) expect(Number.isInteger(layer) && layer >= 0, `layer of ${room}`).toBe(true);
  });
});

describe('imports follow the layering', () => {
  it('the scanner sees the imports (a sanity floor: an empty graph would pass everything)', () => {
    expect(FILES.length).toBeGreaterThan(150);
    expect(EDGES.filter((e) => roomOf(e.from) !== roomOf(e.to)).length).toBeGreaterThan(300);
    expect(EDGES.some((e) => e.typeOnly)).toBe(true);
  });

  it('no room imports a room on its own or a higher layer', () => {
    const against = EDGES.filter((e) => {
      const from = roomOf(e.from);
      const to = roomOf(e.to);
      return from !== to && !((LAYERS.get(to) ?? Infinity) < (LAYERS.get(from) ?? -Infinity));
    });
    expect(against.map(describeEdge)).toEqual([]);
  });

  it('the console (web/src) imports server code for its types only, or a module that imports nothing (plain data), so no server code reaches the browser bundle', () => {
    const bundled = EDGES.filter((e) => e.from.startsWith('web/src/') && e.to.startsWith('src/') && !e.typeOnly);
    expect(bundled.filter((e) => readImports(e.to).length > 0).map(describeEdge)).toEqual([]);
  });

  it('no import cycle between files', () => {
    expect(findCycles(EDGES).map((cycle) => cycle.join(' → '))).toEqual([]);
  });
});

describe('findCycles', () => {
  const edge = (from: string, to: string): ImportEdge => ({ from, to, typeOnly: false });

  it('names each cycle as a path that returns to its start', () => {
    const cycles = findCycles([edge('a', 'b'), edge('b', 'c'), edge('c', 'a'), edge('c', 'd'), edge('d', 'e')]);
    expect(cycles).toEqual([['a', 'b', 'c', 'a']]);
  });

  it('finds a file that imports itself and two separate cycles, and none in a diamond', () => {
    expect(findCycles([edge('a', 'a'), edge('x', 'y'), edge('y', 'x')])).toEqual([
      ['a', 'a'],
      ['x', 'y', 'x'],
    ]);
    expect(findCycles([edge('a', 'b'), edge('a', 'c'), edge('b', 'd'), edge('c', 'd')])).toEqual([]);
  });
});
