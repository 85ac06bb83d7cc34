import { isBase64LengthValid } from './parse-image-data-url.js';

const NON_ALPHABET = /[^A-Za-z0-9+/]/;
const ONLY_PADDING = /^=*$/;
const EMPTY = Buffer.alloc(0);

/**
 * Decodes the payload of a data URL given in pieces of text (JSON escapes already undone), by the
 * same rule parseImageDataUrl checks on a whole string: the standard alphabet only, then at most
 * two `=`, and a valid length. Each complete 4-character group is decoded as soon as it is in, so
 * at most 3 characters are held between pieces. Once the text breaks the rule, `failed` is set and
 * nothing more is decoded.
 */
export class StrictBase64Decoder {
  /** True once the text is known not to be strict base64. */
  failed = false;
  private pending = '';
  private padding = 0;
  private dataChars = 0;

  /** The bytes this piece completes. */
  write(text: string): Buffer {
    if (this.failed || text === '') return EMPTY;
    if (this.padding > 0) return this.addPadding(text);
    const dataEnd = NON_ALPHABET.exec(text)?.index ?? text.length;
    if (dataEnd < text.length) this.addPadding(text.slice(dataEnd));
    if (this.failed) return EMPTY;
    this.dataChars += dataEnd;
    const all = this.pending + (dataEnd < text.length ? text.slice(0, dataEnd) : text);
    const whole = all.length - (all.length % 4);
    this.pending = all.slice(whole);
    return whole === 0 ? EMPTY : Buffer.from(all.slice(0, whole), 'base64');
  }

  /** The last bytes (an unpadded group); sets `failed` when the length breaks the rule. */
  end(): Buffer {
    if (!this.failed && !isBase64LengthValid(this.dataChars, this.padding)) this.failed = true;
    const rest = this.failed ? '' : this.pending;
    this.pending = '';
    return rest === '' ? EMPTY : Buffer.from(rest, 'base64');
  }

  private addPadding(tail: string): Buffer {
    if (!ONLY_PADDING.test(tail) || this.padding + tail.length > 2) this.failed = true;
    else this.padding += tail.length;
    return EMPTY;
  }
}
