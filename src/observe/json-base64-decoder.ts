/** Characters that can occur in base64 (both alphabets); anything else is skipped, as Buffer.from(…, 'base64') does. */
const NOT_BASE64 = /[^A-Za-z0-9+/_-]/g;
const HAS_NOT_BASE64 = /[^A-Za-z0-9+/_-]/;
const SIMPLE_ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
const EMPTY = Buffer.alloc(0);

/**
 * Decodes a base64 JSON string given as pieces of its raw text (escapes as written, split anywhere,
 * as JsonStreamLexer hands them over): JSON escapes are undone (`\/` → `/`, `\u0041` → `A`), padding
 * and characters outside the base64 alphabets are skipped, and each complete 4-character group is
 * decoded as soon as it is in. Holds at most 3 characters and one unfinished escape between pieces.
 */
export class JsonBase64Decoder {
  private pending = '';
  private escape = '';

  /** Decodes what this piece completes. */
  write(raw: Buffer): Buffer {
    let text = raw.toString('latin1');
    if (this.escape !== '' || text.includes('\\')) text = this.unescape(this.escape + text);
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
    this.escape = '';
    return rest === '' ? EMPTY : Buffer.from(rest, 'base64');
  }

  /** Undoes JSON escapes; an escape cut off at the end of `text` is kept for the next piece. */
  private unescape(text: string): string {
    this.escape = '';
    let out = '';
    let from = 0;
    for (let at = text.indexOf('\\'); at !== -1; at = text.indexOf('\\', from)) {
      out += text.slice(from, at);
      const kind = text[at + 1];
      const length = kind === 'u' ? 6 : 2;
      if (kind === undefined || at + length > text.length) {
        this.escape = text.slice(at);
        return out;
      }
      out += kind === 'u' ? String.fromCharCode(Number.parseInt(text.slice(at + 2, at + 6), 16)) : (SIMPLE_ESCAPES[kind] ?? '');
      from = at + length;
    }
    return out + text.slice(from);
  }
}
