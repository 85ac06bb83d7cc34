import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  CLEARED,
  parseDurationArg,
  parseExpiresArg,
  parseLimitArg,
  parseNameListArg,
  parseNumberArg,
  parseProxyArg,
  parseSwitchArg,
  resolveClearable,
} from '../../../src/cli/cli-arg-parsers.js';

describe('parseNumberArg', () => {
  it.each([
    ['5', 5],
    ['0', 0],
    ['-1', -1],
    ['1024', 1024],
    ['2.5', 2.5],
    [' 7 ', 7],
  ])('%j -> %d', (raw, n) => expect(parseNumberArg(raw)).toBe(n));
  it.each(['', 'abc', '5x', '1e3', '0x10', 'unlimited', 'NaN', 'Infinity'])('refuses %j', (raw) => {
    expect(() => parseNumberArg(raw)).toThrow(InvalidArgumentError);
  });
});

describe('parseLimitArg', () => {
  it.each([
    ['unlimited', CLEARED],
    ['UNLIMITED', CLEARED],
    ['3', 3],
    ['0', 0],
  ])('%j -> %j', (raw, v) => expect(parseLimitArg(raw)).toBe(v));
  it.each(['', 'none', 'unlimit', 'ten'])('refuses %j', (raw) => expect(() => parseLimitArg(raw)).toThrow(InvalidArgumentError));
});

describe('parseSwitchArg', () => {
  it('maps on/off', () => {
    expect(parseSwitchArg('on')).toBe(true);
    expect(parseSwitchArg('off')).toBe(false);
  });
  it.each(['true', 'ON', 'yes', '1', ''])('refuses %j', (raw) => expect(() => parseSwitchArg(raw)).toThrow(InvalidArgumentError));
});

describe('parseNameListArg', () => {
  it('splits, trims and drops blanks', () => expect(parseNameListArg(' a, b,,c ')).toEqual(['a', 'b', 'c']));
  it.each(['', ',', ' , '])('refuses %j', (raw) => expect(() => parseNameListArg(raw)).toThrow(InvalidArgumentError));
});

describe('parseProxyArg', () => {
  it.each([
    ['none', CLEARED],
    ['NONE', CLEARED],
    ['http://p:8080', 'http://p:8080'],
    [' socks5://h:1 ', 'socks5://h:1'],
  ])('%j -> %j', (raw, v) => expect(parseProxyArg(raw)).toBe(v));
});

describe('resolveClearable', () => {
  it('maps CLEARED to null and keeps everything else', () => {
    expect(resolveClearable(CLEARED)).toBeNull();
    expect(resolveClearable(0)).toBe(0);
    expect(resolveClearable('x')).toBe('x');
    expect(resolveClearable(undefined)).toBeUndefined();
  });
});

describe('parseDurationArg and parseExpiresArg read durations with config/durations.ts', () => {
  it('--grace: 0 or a duration, in ms', () => {
    expect(parseDurationArg('0')).toBe(0);
    expect(parseDurationArg(' 90m ')).toBe(5_400_000);
    for (const raw of ['', '1y', '90', 'never']) expect(() => parseDurationArg(raw)).toThrow(InvalidArgumentError);
  });
  it('--expires: a duration from now, never, or the text passed on for the service to check', () => {
    expect(parseExpiresArg('2w', 1_000)).toBe(1_000 + 1_209_600_000);
    expect(parseExpiresArg('Never')).toBe(CLEARED);
    expect(parseExpiresArg(' 2027-01-31T00:00:00Z ')).toBe('2027-01-31T00:00:00Z');
  });
});
