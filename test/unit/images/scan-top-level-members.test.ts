import { describe, expect, it } from 'vitest';
import { scanTopLevelMembers } from '../../../src/images/scan-top-level-members.js';

const NAMES = ['n', 'output_compression', 'partial_images'];
const scan = (text: string) => Object.fromEntries(scanTopLevelMembers(text, NAMES));

describe('scanTopLevelMembers', () => {
  it.each([
    ['{"n":2}', { n: '2' }],
    ['{"n":2.0}', { n: '2.0' }],
    ['{"n":1e0}', { n: '1e0' }],
    ['{"n":-1}', { n: '-1' }],
    ['{ "n" : 2.50 , "prompt":"x"}', { n: '2.50' }],
    ['\n{\n\t"prompt": "a", "n":\r\n3\n}\n', { n: '3' }],
    ['{"n":"2"}', { n: '"2"' }],
    ['{"n":null,"output_compression":100,"partial_images":true}', { n: 'null', output_compression: '100', partial_images: 'true' }],
    ['{"n":[1,2]}', { n: '[1,2]' }],
    ['{"n":{"a":"}"}}', { n: '{"a":"}"}' }],
  ])('reads the literal of %j', (text, expected) => expect(scan(text)).toEqual(expected));

  it('decodes escaped keys, so "\\u006e" is n', () => expect(scan('{"\\u006e":2.0}')).toEqual({ n: '2.0' }));

  it('reports the last of repeated keys, as JSON.parse keeps', () => expect(scan('{"n":1,"n":2.0}')).toEqual({ n: '2.0' }));

  it.each([
    ['a nested n', '{"meta":{"n":2.0},"n":3}', { n: '3' }],
    ['an n inside an array', '{"images":[{"n":2.0}],"x":1}', {}],
    ['"n": inside a string', '{"prompt":"say \\"n\\": 2.0","n":1}', { n: '1' }],
    ['a string ending in an escaped backslash', '{"prompt":"C:\\\\","n":4}', { n: '4' }],
    ['brackets inside nested strings', '{"images":["]}{[","\\"]"],"n":2}', { n: '2' }],
    ['a key that only looks like n', '{"nn":2.0,"n ":1}', {}],
  ])('ignores %s', (_label, text, expected) => expect(scan(text)).toEqual(expected));

  it.each(['[]', '"n"', '2', '', '{}', '{"n"'])('returns nothing for %j', (text) => expect(scan(text)).toEqual({}));

  it('finds a member after a 50 MB string quickly (jumps from quote to quote)', () => {
    const big = 'A'.repeat(50 * 1024 * 1024);
    const text = `{"images":["data:image/png;base64,${big}"],"prompt":"p","n":2.0}`;
    const started = performance.now();
    expect(scan(text)).toEqual({ n: '2.0' });
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('stays linear on a string full of escaped quotes', () => {
    const text = `{"prompt":"${'\\"'.repeat(2_000_000)}","n":1.5}`;
    const started = performance.now();
    expect(scan(text)).toEqual({ n: '1.5' });
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
