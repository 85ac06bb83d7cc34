import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REQUEST_LOG_FILES, buildSealedLogName, isSealedLogName, pruneSealedLogs, sealActiveLog } from '../../../src/observe/request-log-files.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function makeDir(files: Record<string, number> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'cig-logfiles-'));
  dirs.push(dir);
  for (const [name, mtimeSec] of Object.entries(files)) {
    writeFileSync(join(dir, name), 'x\n');
    utimesSync(join(dir, name), mtimeSec, mtimeSec);
  }
  return dir;
}

describe('isSealedLogName', () => {
  it.each([
    ['codex-image-1700000000000-0.jsonl', true],
    ['codex-image-anything.jsonl', true],
    [REQUEST_LOG_FILES.active, false],
    [REQUEST_LOG_FILES.lock, false],
    ['codex-image-1-0.jsonl.gz', false],
    ['codex-image-.jsonl', false],
    ['other-1-0.jsonl', false],
  ])('%s → %s', (name, sealed) => expect(isSealedLogName(name)).toBe(sealed));
});

describe('sealActiveLog', () => {
  it('renames the active file and bumps the sequence past taken names', async () => {
    const dir = makeDir({ [REQUEST_LOG_FILES.active]: 1, [buildSealedLogName(5, 3)]: 1 });
    expect(await sealActiveLog(dir, 5, 3)).toBe(5);
    expect(readdirSync(dir).sort()).toEqual([buildSealedLogName(5, 3), buildSealedLogName(5, 4)]);
  });
});

describe('pruneSealedLogs', () => {
  it('deletes the oldest by mtime, never the active or other files', async () => {
    const dir = makeDir({
      'codex-image-300-0.jsonl': 100, // oldest mtime despite the larger name
      'codex-image-100-0.jsonl': 300,
      'codex-image-200-0.jsonl': 200,
      [REQUEST_LOG_FILES.active]: 1,
      'notes.txt': 1,
    });
    expect(await pruneSealedLogs(dir, 2)).toEqual(['codex-image-300-0.jsonl']);
    expect(readdirSync(dir).sort()).toEqual(['codex-image-100-0.jsonl', 'codex-image-200-0.jsonl', REQUEST_LOG_FILES.active, 'notes.txt']);
  });

  it('breaks mtime ties by the numbers in the name (9 before 10)', async () => {
    const dir = makeDir({ 'codex-image-7-10.jsonl': 50, 'codex-image-7-9.jsonl': 50, 'codex-image-7-11.jsonl': 50 });
    expect(await pruneSealedLogs(dir, 1)).toEqual(['codex-image-7-9.jsonl', 'codex-image-7-10.jsonl']);
  });

  it.each([0, -3])('keeps at least one file when maxFiles is %s', async (maxFiles) => {
    const dir = makeDir({ 'codex-image-1-0.jsonl': 1, 'codex-image-2-0.jsonl': 2 });
    await pruneSealedLogs(dir, maxFiles);
    expect(readdirSync(dir)).toEqual(['codex-image-2-0.jsonl']);
  });
});
