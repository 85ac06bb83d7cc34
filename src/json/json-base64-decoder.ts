import { JsonStringUnescaper } from './json-string-unescaper.js';

/** Characters that can occur in base64 (both alphabets); anything else is skipped, as Buffer.from(…, 'base64') does. */
const NOT_BASE64 = /[^A-Za-z0-9+/_-]/g;
const HAS_NOT_BASE64 = /[^A-Za-z0-9+/_-]/;
const EMPTY = Buffer.alloc(0);

/**
 * Decodes a base64 JSON string given as pieces of its raw text (escapes as written, split anywhere,
 * as JsonStreamLexer hands them over): JSON escapes are undone (`\/` → `/`, `\u0041` → `A`), padding
 * and characters outside the base64 alphabets are skipped, and each complete 4-character group is
 * decoded as soon as it is in. Holds at most 3 characters and one unfinished escape between pieces.
 */
export class JsonBase64Decoder {
  private pending = '';
  private readonly unescaper = new JsonStringUnescaper();

  /** Decodes what this piece completes. */
  write(raw: Buffer): Buffer {
    let text = this.unescaper.write(raw.toString('latin1'));
    if (HAS_NOT_BASE64.test(text)) text = text.replace(NOT_BASE64, '');
    text = this.pending + text;
    const whole = text.length - (text.length % 4);
    this.pending = text.slice(whole);
    return whole === 0 ? EMPTY : Buffer.from(text.slice(0, whole), 'base64');
  }

  /** Decodes the last, unpadded group (an unfinished escape at the end is dropped). */
  end(): Buffer {
    const rest = this.pending;
    this.pending = '';
    this.unescaper.end();
    return rest === '' ? EMPTY : Buffer.from(rest, 'base64');
  }
}
