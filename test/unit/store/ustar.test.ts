import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { extractUstar, UstarError } from '../../../src/store/ustar.js';

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cig-ustar-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A ustar archive of `tree` made by GNU tar, as scripts/build-pglite-template.ts makes the template. */
function tarOf(tree: string): Buffer {
  return execFileSync('tar', ['--format=ustar', '--sort=name', '--mode=go-rwx', '-C', tree, '-cf', '-', '.']);
}

/** One ustar header block for a hand-made entry (name, type flag, size), with a correct checksum. */
function header(name: string, type: string, size = 0): Buffer {
  const block = Buffer.alloc(512);
  block.write(name, 0, 'utf8');
  block.write('0000644\0', 100);
  block.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  block.write('00000000000\0', 136);
  block.write(type, 156);
  block.write('ustar\0' + '00', 257);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return block;
}

describe('extractUstar', () => {
  it('reproduces a tree tar wrote: nested folders, empty and multi-block files, a path long enough to need the prefix field', () => {
    const src = join(dir, 'src');
    const deep = join(src, 'a'.repeat(60), 'b'.repeat(60));
    mkdirSync(deep, { recursive: true });
    mkdirSync(join(src, 'empty-folder'));
    writeFileSync(join(src, 'PG_VERSION'), '17\n');
    writeFileSync(join(src, 'zero'), '');
    const big = Buffer.alloc(512 * 3 + 7, 0xab);
    writeFileSync(join(deep, 'file-in-a-long-path'), big);
    const out = join(dir, 'out');
    mkdirSync(out);

    expect(extractUstar(tarOf(src), out)).toBe(3);

    expect(readFileSync(join(out, 'PG_VERSION'), 'utf8')).toBe('17\n');
    expect(readFileSync(join(out, 'zero'))).toHaveLength(0);
    expect(readFileSync(join(out, 'a'.repeat(60), 'b'.repeat(60), 'file-in-a-long-path')).equals(big)).toBe(true);
    expect(statSync(join(out, 'empty-folder')).isDirectory()).toBe(true);
    expect(statSync(join(out, 'PG_VERSION')).mode & 0o077).toBe(0);
  });

  it('refuses a damaged header, a truncated file, a missing end marker, links and paths outside the target', () => {
    const out = join(dir, 'out');
    mkdirSync(out);
    const end = Buffer.alloc(1024);
    const damaged = header('x', '0');
    damaged[0] = 0x79; // the name changes, the stored checksum does not
    expect(() => extractUstar(Buffer.concat([damaged, end]), out)).toThrow(/fails its checksum/);
    expect(() => extractUstar(Buffer.concat([header('x', '0', 4096), Buffer.alloc(512)]), out)).toThrow(/truncated/);
    expect(() => extractUstar(Buffer.concat([header('x', '0', 3), Buffer.alloc(512)]), out)).toThrow(/end-of-archive/);
    expect(() => extractUstar(Buffer.concat([header('link', '2'), end]), out)).toThrow(/only files and directories/);
    expect(() => extractUstar(Buffer.concat([header('../escape', '0'), end]), out)).toThrow(UstarError);
    expect(() => extractUstar(Buffer.concat([header('/etc/escape', '0'), end]), out)).toThrow(/outside the target/);
    expect(() => extractUstar(Buffer.concat([header('./a/../../escape', '0'), end]), out)).toThrow(/outside the target/);
  });
});
