/**
 * An incremental JSON lexer for bodies that must be streamed, not held: it walks bytes as they arrive
 * (strings and escapes split across chunks, numbers, literals, nesting, keys), asks a `JsonPathSink`
 * what each position means, and re-emits the bytes, optionally rewriting a key token or inserting
 * bytes after a string's opening quote. Long strings are skipped with `indexOf` (memchr), never
 * copied: memory is bounded by the capture caps below, whatever the body size. Within a chunk, the
 * next quote and the next backslash are each searched for once and remembered, so a string full of
 * escapes costs one pass over the chunk, not one pass per escape; a string with no backslash (base64
 * image data) is crossed by those two native searches alone.
 * Leniency: raw control characters inside strings are not rejected (checking them would cost a
 * per-byte loop on multi-megabyte strings).
 */
import { ChunkEmitter } from './chunk-emitter.js';
import { CAPTURE, VALUE_HEAD_CHARS, type Capture, type JsonPathSink } from './json-path-sink.js';

/** Raw bytes captured for one key or short value; longer ones are reported as null. */
export const MAX_CAPTURE_BYTES = 256;
/** Deepest nesting accepted; deeper bodies are treated as invalid. */
export const MAX_DEPTH = 256;

const LEX = { between: 0, string: 1, escape: 2, unicode: 3, word: 4, failed: 5 } as const;
type Lex = (typeof LEX)[keyof typeof LEX];
const EXPECT = { value: 0, valueOrEnd: 1, keyOrEnd: 2, key: 3, colon: 4, commaOrEnd: 5 } as const;
type Expect = (typeof EXPECT)[keyof typeof EXPECT];
const C = {
  quote: 0x22,
  backslash: 0x5c,
  lbrace: 0x7b,
  rbrace: 0x7d,
  lbracket: 0x5b,
  rbracket: 0x5d,
  colon: 0x3a,
  comma: 0x2c,
  equals: 0x3d,
  u: 0x75,
} as const;
const SIMPLE_ESCAPES = new Set([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74]);
const NUMBER_TEXT = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

interface Frame {
  isObject: boolean;
  role: number;
  expect: Expect;
  /** Slot of the current member's value (objects). */
  slot: number;
}

const isWhitespace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
/** Bytes that can continue a number or literal token. */
const isWordByte = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x45;
/** True when the first `length` bytes hold no backslash and no control character (< 0x20), so need no JSON decoding. */
const isPlainText = (bytes: Buffer, length: number): boolean => {
  for (let k = 0; k < length; k++) {
    const c = bytes[k]!;
    if (c < 0x20 || c === C.backslash) return false;
  }
  return true;
};
/** Position of the first `byte` in `buf` at or after `from` (memchr); `buf.length` when there is none. */
const findByte = (buf: Buffer, byte: number, from: number): number => {
  const at = buf.indexOf(byte, from);
  return at === -1 ? buf.length : at;
};
const hexValue = (c: number): number => (c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1);

/** See the file comment. One instance per body; feed it with `write` and finish with `end`. */
export class JsonStreamLexer {
  private lex: Lex = LEX.between;
  private readonly stack: Frame[] = [];
  private rootDone = false;
  // current string or word
  private isKey = false;
  private slot = 0;
  private capture: Capture = CAPTURE.none;
  private readonly captured = Buffer.allocUnsafe(MAX_CAPTURE_BYTES);
  private capturedBytes = 0;
  private overflow = false;
  private wordIsNumber = false;
  private chars = 0;
  private trailingEquals = 0;
  private unicodeLeft = 0;
  private unicodeValue = 0;
  private readonly out = new ChunkEmitter();
  /** The start of a prefixed string value, while its prefix is not chosen yet (null otherwise). */
  private valueHead: string | null = null;
  private maxHeld = 0;
  /** Position of the next `"` / `\\` in the current chunk at or after the last search (chunk length: none). */
  private nextQuote = -1;
  private nextSlash = -1;

  constructor(private readonly sink: JsonPathSink) {}

  /** Scans one chunk and passes its bytes (possibly rewritten) to `emit`, in order. */
  write(chunk: Buffer, emit: (bytes: Buffer) => void): void {
    this.out.begin(chunk, emit);
    this.nextQuote = -1;
    this.nextSlash = -1;
    let i = 0;
    while (i < chunk.length && this.lex !== LEX.failed) i = this.step(chunk, i);
    if (this.lex === LEX.failed) this.releaseAll(); // from here on, bytes pass through as they are
    this.out.finishChunk();
    this.maxHeld = Math.max(this.maxHeld, this.out.heldBytes);
  }

  /** Ends the body; returns true when it was exactly one valid JSON value. */
  end(emit: (bytes: Buffer) => void): boolean {
    this.out.setEmit(emit);
    if (this.lex === LEX.word) this.finishWord();
    this.releaseAll();
    return this.lex === LEX.between && this.rootDone;
  }

  /** True once the body proved not to be JSON (it then passes through untouched). */
  hasFailed(): boolean {
    return this.lex === LEX.failed;
  }

  /** Largest number of bytes ever held at once (captures and held key tokens): a memory bound check. */
  maxHeldBytes(): number {
    return this.maxHeld;
  }

  private step(buf: Buffer, i: number): number {
    switch (this.lex) {
      case LEX.string:
        return this.scanString(buf, i);
      case LEX.escape:
        return this.scanEscape(buf, i);
      case LEX.unicode:
        return this.scanUnicode(buf, i);
      case LEX.word:
        return this.scanWord(buf, i);
      default:
        return this.scanBetween(buf, i);
    }
  }

  private scanBetween(buf: Buffer, start: number): number {
    let i = start;
    while (i < buf.length && isWhitespace(buf[i]!)) i++;
    if (i === buf.length) return i;
    const c = buf[i]!;
    const f = this.stack.at(-1);
    if (!f) return this.rootDone ? this.fail(i) : this.startValue(buf, i, this.sink.rootSlot);
    switch (f.expect) {
      case EXPECT.keyOrEnd:
      case EXPECT.key:
        if (c === C.rbrace && f.expect === EXPECT.keyOrEnd) return this.close(i);
        return c === C.quote ? this.startKey(i, f) : this.fail(i);
      case EXPECT.colon:
        if (c !== C.colon) return this.fail(i);
        f.expect = EXPECT.value;
        return i + 1;
      case EXPECT.valueOrEnd:
      case EXPECT.value:
        if (c === C.rbracket && f.expect === EXPECT.valueOrEnd) return this.close(i);
        return this.startValue(buf, i, f.isObject ? f.slot : this.sink.onElement(f.role));
      case EXPECT.commaOrEnd:
        if (c === (f.isObject ? C.rbrace : C.rbracket)) return this.close(i);
        if (c !== C.comma) return this.fail(i);
        f.expect = f.isObject ? EXPECT.key : EXPECT.value;
        return i + 1;
      default:
        return this.fail(i);
    }
  }

  private startValue(buf: Buffer, i: number, slot: number): number {
    const c = buf[i]!;
    if (c === C.lbrace || c === C.lbracket) {
      if (this.stack.length >= MAX_DEPTH) return this.fail(i);
      const isObject = c === C.lbrace;
      const role = this.sink.onOpen(slot, isObject);
      this.stack.push({ isObject, role, expect: isObject ? EXPECT.keyOrEnd : EXPECT.valueOrEnd, slot: 0 });
      return i + 1;
    }
    if (c === C.quote) {
      this.beginToken(LEX.string, slot, this.sink.captureFor(slot));
      const replacement = this.sink.replaceValue?.(slot) ?? null;
      if (replacement) {
        this.out.startDrop(i + 1, replacement);
      } else if (this.sink.prefixesValue(slot)) {
        // Hold the value back until its first characters are known; resolvePrefix emits the prefix before them.
        this.out.startHold(i + 1);
        this.valueHead = '';
      }
      return i + 1;
    }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39) || c === 0x74 || c === 0x66 || c === 0x6e) {
      // Words are always captured (capped): their text decides validity.
      this.beginToken(LEX.word, slot, CAPTURE.text);
      this.wordIsNumber = c === 0x2d || (c >= 0x30 && c <= 0x39);
      return i;
    }
    return this.fail(i);
  }

  private startKey(i: number, f: Frame): number {
    this.beginToken(LEX.string, 0, this.sink.captureKeys(f.role) ? CAPTURE.text : CAPTURE.none);
    this.isKey = true;
    if (this.capture === CAPTURE.text && this.sink.rewriteKeys(f.role)) this.out.startHold(i);
    return i + 1;
  }

  private beginToken(lex: Lex, slot: number, capture: Capture): void {
    this.lex = lex;
    this.isKey = false;
    this.slot = slot;
    this.capture = capture;
    this.capturedBytes = 0;
    this.overflow = false;
    this.chars = 0;
    this.trailingEquals = 0;
  }

  /** Inside a string: jump to the next quote or backslash, whichever comes first (see the file comment). */
  private scanString(buf: Buffer, i: number): number {
    if (this.nextQuote < i) this.nextQuote = findByte(buf, C.quote, i);
    if (this.nextSlash < i) this.nextSlash = findByte(buf, C.backslash, i);
    if (this.nextSlash < this.nextQuote) {
      const slash = this.nextSlash;
      this.observeSegment(buf, i, slash);
      this.captureRange(buf, slash, slash + 1);
      this.passCounted(buf, slash, slash + 1);
      this.lex = LEX.escape;
      return slash + 1;
    }
    const quote = this.nextQuote;
    this.observeSegment(buf, i, quote);
    if (quote === buf.length) return quote;
    this.finishString(quote);
    return quote + 1;
  }

  private observeSegment(buf: Buffer, from: number, to: number): void {
    if (to <= from) return;
    if (this.valueHead !== null) this.addToHead(buf.toString('latin1', from, Math.min(to, from + VALUE_HEAD_CHARS)));
    if (this.capture === CAPTURE.text) {
      this.captureRange(buf, from, to);
      return;
    }
    if (this.capture !== CAPTURE.count) return;
    this.passCounted(buf, from, to);
    this.chars += to - from;
    let k = to;
    while (k > from && buf[k - 1] === C.equals) k--;
    this.trailingEquals = k === from ? this.trailingEquals + (to - from) : to - k;
  }

  /** Hands raw bytes of a counted string to the sink, when it listens. */
  private passCounted(buf: Buffer, from: number, to: number): void {
    if (this.capture === CAPTURE.count && to > from) this.sink.onCountedBytes?.(this.slot, buf.subarray(from, to));
  }

  private scanEscape(buf: Buffer, i: number): number {
    const c = buf[i]!;
    this.captureRange(buf, i, i + 1);
    this.passCounted(buf, i, i + 1);
    if (c === C.u) {
      this.lex = LEX.unicode;
      this.unicodeLeft = 4;
      this.unicodeValue = 0;
      return i + 1;
    }
    if (!SIMPLE_ESCAPES.has(c)) return this.fail(i);
    // Some encoders escape '/' (a base64 character) as `\/`; other escapes cannot occur in base64.
    if (this.valueHead !== null) this.addToHead(c === 0x2f ? '/' : '?');
    this.countDecodedChar(-1);
    this.lex = LEX.string;
    return i + 1;
  }

  private scanUnicode(buf: Buffer, i: number): number {
    const h = hexValue(buf[i]!);
    if (h < 0) return this.fail(i);
    this.captureRange(buf, i, i + 1);
    this.passCounted(buf, i, i + 1);
    this.unicodeValue = this.unicodeValue * 16 + h;
    if (--this.unicodeLeft === 0) {
      this.countDecodedChar(this.unicodeValue);
      this.lex = LEX.string;
    }
    return i + 1;
  }

  private countDecodedChar(code: number): void {
    if (this.capture !== CAPTURE.count) return;
    this.chars++;
    this.trailingEquals = code === C.equals ? this.trailingEquals + 1 : 0;
  }

  /**
   * Lets everything held go (on failure, or at the end of the body). A prefix already promised to a
   * value is emitted first, as if its head had been complete: the value was a string in a prefixed
   * slot when it began, whatever came after.
   */
  private releaseAll(): void {
    if (this.out.dropping) this.out.endDrop(Infinity); // the body ended inside a replaced value: nothing of it is emitted
    if (this.valueHead !== null) this.resolvePrefix();
    this.out.releaseHeld();
  }

  /** Collects the head of a prefixed value; once it is long enough, the prefix is chosen and emitted. */
  private addToHead(text: string): void {
    this.valueHead = (this.valueHead ?? '') + text;
    if (this.valueHead.length >= VALUE_HEAD_CHARS) this.resolvePrefix();
  }

  private resolvePrefix(): void {
    const head = (this.valueHead ?? '').slice(0, VALUE_HEAD_CHARS);
    this.valueHead = null;
    this.out.releaseHeldAfter(this.sink.valuePrefix(this.slot, head));
  }

  private finishString(quote: number): void {
    if (this.valueHead !== null) this.resolvePrefix();
    if (this.out.dropping) this.out.endDrop(quote);
    const text = this.capture === CAPTURE.text ? this.capturedString() : null;
    this.lex = LEX.between;
    if (this.isKey) {
      const f = this.stack.at(-1)!;
      f.slot = this.sink.onKey(f.role, text);
      f.expect = EXPECT.colon;
      if (this.out.holding) this.out.endHold(quote + 1, this.sink.rewriteKey(f.role, text));
      return;
    }
    if (this.capture === CAPTURE.text) this.sink.onScalar(this.slot, 'string', text);
    else if (this.capture === CAPTURE.count) this.sink.onCounted(this.slot, this.chars, this.trailingEquals);
    this.valueDone();
  }

  private scanWord(buf: Buffer, i: number): number {
    let j = i;
    while (j < buf.length && isWordByte(buf[j]!)) j++;
    this.captureRange(buf, i, j);
    if (j < buf.length) this.finishWord();
    return j;
  }

  private finishWord(): void {
    const text = this.overflow ? null : this.captured.toString('latin1', 0, this.capturedBytes);
    // An over-long word can only be a number (literals are short); its digits are not checked.
    const valid = this.wordIsNumber ? text === null || NUMBER_TEXT.test(text) : text === 'true' || text === 'false' || text === 'null';
    if (!valid) {
      this.fail(0);
      return;
    }
    this.lex = LEX.between;
    if (this.sink.captureFor(this.slot) !== CAPTURE.none) this.sink.onScalar(this.slot, this.wordIsNumber ? 'number' : 'literal', text);
    this.valueDone();
  }

  private close(i: number): number {
    this.stack.pop();
    this.valueDone();
    return i + 1;
  }

  private valueDone(): void {
    const f = this.stack.at(-1);
    if (f) f.expect = EXPECT.commaOrEnd;
    else this.rootDone = true;
  }

  private fail(i: number): number {
    if (this.out.dropping) this.out.endDrop(i); // from here on the bytes pass through as they are
    this.lex = LEX.failed;
    return i;
  }

  private captureRange(buf: Buffer, from: number, to: number): void {
    if (this.capture !== CAPTURE.text || this.overflow || to <= from) return;
    if (this.capturedBytes + (to - from) > MAX_CAPTURE_BYTES) {
      this.overflow = true;
      if (this.out.holding) this.out.endHold(to, null); // a long key can never be rewritten: stop holding it
      return;
    }
    buf.copy(this.captured, this.capturedBytes, from, to);
    this.capturedBytes += to - from;
    this.maxHeld = Math.max(this.maxHeld, this.capturedBytes + this.out.heldBytes);
  }

  /** The captured string, JSON-decoded; null after an overflow. */
  private capturedString(): string | null {
    if (this.overflow) return null;
    const raw = this.captured.toString('utf8', 0, this.capturedBytes);
    // Most keys and values have no escape and no control character: their bytes are their text.
    if (isPlainText(this.captured, this.capturedBytes)) return raw;
    try {
      return JSON.parse(`"${raw}"`) as string;
    } catch {
      return null; // raw control characters: valid enough to stream, not to report
    }
  }
}
