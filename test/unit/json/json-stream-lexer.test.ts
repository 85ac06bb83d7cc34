import { describe, expect, it } from 'vitest';
import { CAPTURE, type Capture, type JsonPathSink } from '../../../src/json/json-path-sink.js';
import { JsonStreamLexer } from '../../../src/json/json-stream-lexer.js';

/** Counts every string value, captures every key and scalar; records what it is told. */
class RecordingSink implements JsonPathSink {
  readonly rootSlot = 1;
  readonly keys: (string | null)[] = [];
  readonly counted: { chars: number; trailingEquals: number }[] = [];
  readonly raw: Buffer[] = [];
  onOpen = () => 1;
  onElement = () => 1;
  onKey(_role: number, key: string | null): number {
    this.keys.push(key);
    return 1;
  }
  captureKeys = () => true;
  captureFor = (): Capture => CAPTURE.count;
  onScalar = () => undefined;
  onCountedBytes(_slot: number, raw: Buffer): void {
    this.raw.push(Buffer.from(raw));
  }
  onCounted(_slot: number, chars: number, trailingEquals: number): void {
    this.counted.push({ chars, trailingEquals });
  }
  rewriteKeys = () => false;
  rewriteKey = () => null;
  prefixesValue = () => false;
  valuePrefix = () => Buffer.alloc(0);
}

function lex(chunks: Buffer[]) {
  const sink = new RecordingSink();
  const lexer = new JsonStreamLexer(sink);
  const out: Buffer[] = [];
  for (const chunk of chunks) lexer.write(chunk, (b) => out.push(Buffer.from(b)));
  const valid = lexer.end((b) => out.push(Buffer.from(b)));
  return { valid, sink, output: Buffer.concat(out) };
}

describe('JsonStreamLexer strings', () => {
  it('crosses a string of 2,000,000 escapes in one pass (an escape does not search the chunk again)', () => {
    // One 4 MB chunk. Searching again for the closing quote at every escape made this quadratic:
    // about a minute here, against a fraction of a second.
    const value = '\\n'.repeat(2_000_000);
    const body = Buffer.from(`{"k":"${value}","b":"QUJD"}`);
    const sink = new RecordingSink();
    sink.onCountedBytes = () => undefined; // keep the sink's own cost out of it
    const lexer = new JsonStreamLexer(sink);
    let emitted = 0;
    lexer.write(body, (b) => (emitted += b.length));
    expect(lexer.end(() => undefined)).toBe(true);
    expect(emitted).toBe(body.length);
    expect(sink.counted).toEqual([
      { chars: 2_000_000, trailingEquals: 0 },
      { chars: 4, trailingEquals: 0 },
    ]);
  }, 10_000);

  it('finds quotes and backslashes again after an earlier string in the same chunk', () => {
    const body = Buffer.from('{"a\\"b":"x\\\\","c":"QUI=","d\\u0065":"y\\"z"}');
    const { valid, sink } = lex([body]);
    expect(valid).toBe(true);
    expect(sink.keys).toEqual(['a"b', 'c', 'de']);
    expect(sink.counted).toEqual([
      { chars: 2, trailingEquals: 0 },
      { chars: 4, trailingEquals: 1 },
      { chars: 3, trailingEquals: 0 },
    ]);
  });

  it('reads plain keys with multi-byte UTF-8 as text and rejects raw control characters in keys', () => {
    const { sink } = lex([Buffer.from('{"ünï😀":"","a\tb":""}')]);
    expect(sink.keys).toEqual(['ünï😀', null]);
  });

  it.each([0, 1, 2, 3, 5, 8, 13])('gives the same counts and raw pieces when cut every %s bytes', (step) => {
    const body = Buffer.from('{"ünï😀":"a\\"b\\\\c\\/d\\u0041","x":"QUJDRA=="}');
    const whole = lex([body]);
    const chunks = step === 0 ? [body] : Array.from({ length: Math.ceil(body.length / step) }, (_, i) => body.subarray(i * step, (i + 1) * step));
    const cut = lex(chunks);
    expect(cut.valid).toBe(true);
    expect(cut.sink.keys).toEqual(whole.sink.keys);
    expect(cut.sink.counted).toEqual(whole.sink.counted);
    expect(Buffer.concat(cut.sink.raw).equals(Buffer.concat(whole.sink.raw))).toBe(true);
    expect(cut.output.equals(body)).toBe(true);
  });
});
