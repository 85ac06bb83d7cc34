import { describe, expect, it } from 'vitest';
import { JsonBase64Decoder } from '../../../src/json/json-base64-decoder.js';

/** Feeds `raw` in pieces cut at `cuts` and returns everything decoded. */
function decodeInPieces(raw: string, cuts: readonly number[]): Buffer {
  const decoder = new JsonBase64Decoder();
  const out: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts, raw.length]) {
    out.push(decoder.write(Buffer.from(raw.slice(from, cut), 'latin1')));
    from = cut;
  }
  out.push(decoder.end());
  return Buffer.concat(out);
}

const BYTES = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff));
const B64 = BYTES.toString('base64');

describe('JsonBase64Decoder', () => {
  it.each([0, 1, 2, 3, 4, 5, 7, 100, 399])('decodes base64 cut at %i like Buffer.from', (cut) => {
    expect(decodeInPieces(B64, cut > 0 && cut < B64.length ? [cut] : [])).toEqual(BYTES);
  });

  it('decodes every one-byte split, with 1 and 2 padding characters', () => {
    for (const bytes of [BYTES.subarray(0, 298), BYTES.subarray(0, 299), BYTES]) {
      const b64 = bytes.toString('base64');
      expect(
        decodeInPieces(
          b64,
          Array.from({ length: b64.length - 1 }, (_, i) => i + 1),
        ),
      ).toEqual(bytes);
    }
  });

  it('undoes JSON escapes (`\\/`, `\\u002F`, `\\u0041`) even when a piece ends inside one', () => {
    const escaped = B64.replaceAll('/', '\\/').replace('A', '\\u0041').replaceAll('+', '\\u002B');
    expect(escaped).toContain('\\/');
    for (let cut = 1; cut < 60; cut++) expect(decodeInPieces(escaped, [cut, cut + 1, cut + 3])).toEqual(BYTES);
    expect(
      decodeInPieces(
        escaped,
        Array.from({ length: escaped.length - 1 }, (_, i) => i + 1),
      ),
    ).toEqual(BYTES);
  });

  it('skips what is not base64 (escaped newlines, stray characters), as Buffer.from does', () => {
    const wrapped = `${B64.slice(0, 76)}\\n${B64.slice(76, 152)}\\r\\n${B64.slice(152)}`;
    expect(decodeInPieces(wrapped, [76, 77, 78, 155])).toEqual(BYTES);
  });

  it('accepts the URL-safe alphabet', () => {
    expect(decodeInPieces(BYTES.toString('base64url'), [5, 50])).toEqual(BYTES);
  });
});
