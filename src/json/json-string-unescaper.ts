const SIMPLE_ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/**
 * Undoes JSON escapes in a string's raw text given in pieces split anywhere (as JsonStreamLexer hands
 * them over, latin1-decoded): `\/` → `/`, `\u0041` → `A`. An escape cut off at the end of a piece is
 * kept for the next one, so at most 5 characters are held between pieces. Escapes the lexer has
 * already accepted are assumed; an unknown one decodes to nothing.
 */
export class JsonStringUnescaper {
  private escape = '';

  /** The decoded text of this piece (and of an escape the previous piece left unfinished). */
  write(raw: string): string {
    const text = this.escape === '' ? raw : this.escape + raw;
    this.escape = '';
    if (!text.includes('\\')) return text;
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

  /** Ends the string; an unfinished escape is dropped. */
  end(): void {
    this.escape = '';
  }
}
