import { PassThrough } from 'node:stream';
import { once } from 'node:events';
import { isGatewayError } from '../errors/codes.js';
import { JsonStringUnescaper } from '../json/json-string-unescaper.js';
import type { ImageMime } from './image-request.js';
import type { ImageSpool, SpooledImage } from './image-spool.js';
import { DATA_URL_PREFIX, MAX_DATA_URL_PREFIX_CHARS, declaredMime } from './parse-image-data-url.js';
import { SNIFF_HEAD_BYTES, sniffImageType } from './sniff-image-type.js';
import { StrictBase64Decoder } from './strict-base64-decoder.js';

/**
 * What one image-reference string of a streamed JSON body stood for:
 * - `text`: a short string, or one that is not a data URL, decoded as JSON.parse would;
 * - `spooled`: a data URL whose image was decoded and spooled as it arrived (checked like
 *   parseImageDataUrl: strict base64, signature of the declared type);
 * - `invalid_image`: a data URL that failed those checks;
 * - `invalid_json`: a raw control character inside the string, which JSON does not allow;
 * - `failed`: the spool failed (disk), rethrown as is.
 */
export type StreamedImageString =
  | { kind: 'text'; text: string }
  | { kind: 'spooled'; image: SpooledImage }
  | { kind: 'invalid_image' }
  | { kind: 'invalid_json' }
  | { kind: 'failed'; error: unknown };

/** Raw bytes < 0x20: JSON forbids them unescaped inside a string (DEL and above are allowed). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching exactly JSON's forbidden range is the point
const CONTROL_CHAR = /[\x00-\x1f]/;

/** Where a collector spools, and how long a string may grow before it is streamed rather than held. */
export interface StreamedStringOptions {
  readonly spool: ImageSpool;
  /** Raw bytes held before a data URL is streamed to the spool; shorter strings stay in memory. */
  readonly spillBytes: number;
  /** Names the spool file's field (its errors are replaced by the caller's own `param`). */
  readonly field: string;
}

/**
 * Collects one image-reference string of a JSON body from its raw pieces (escapes as written, as
 * JsonStreamLexer hands them over). A string is held until it reaches `spillBytes`; if it is then a
 * data URL, its payload is base64-decoded piece by piece into an encrypted spool file, so memory stays
 * bounded whatever the image size; otherwise it is held whole, as any JSON string would be.
 */
export class ImageStringCollector {
  private held: Buffer[] = [];
  private heldBytes = 0;
  private prefixDecided = false;
  private spooler: DataUrlSpooler | null = null;

  constructor(private readonly options: StreamedStringOptions) {}

  /** Takes the next raw piece (a view of the input: copied when held). */
  write(raw: Buffer): void {
    if (this.spooler !== null) {
      this.spooler.write(raw.toString('latin1'));
      return;
    }
    this.held.push(Buffer.from(raw));
    this.heldBytes += raw.length;
    if (!this.prefixDecided && this.heldBytes >= this.options.spillBytes) this.trySpill();
  }

  /** Resolves once the spool has taken what was written (backpressure for the body reader). */
  drained(): Promise<void> {
    return this.spooler?.drained() ?? Promise.resolve();
  }

  /** Ends the string and settles what it stood for. */
  async end(): Promise<StreamedImageString> {
    if (this.spooler !== null) return this.spooler.end();
    const raw = Buffer.concat(this.held).toString('utf8');
    this.held = [];
    try {
      return { kind: 'text', text: JSON.parse(`"${raw}"`) as string };
    } catch {
      return { kind: 'invalid_json' };
    }
  }

  /** Gives up on a string the body never finished (the request failed); resolves once its spool stopped. */
  async abort(): Promise<void> {
    this.held = [];
    await this.spooler?.abort();
  }

  /** Starts streaming once the held text is known to be a data URL; decides for good once the prefix could be complete. */
  private trySpill(): void {
    const raw = Buffer.concat(this.held).toString('latin1');
    const unescaper = new JsonStringUnescaper();
    const text = unescaper.write(raw);
    const prefix = DATA_URL_PREFIX.exec(text);
    if (prefix === null) {
      this.prefixDecided = text.length >= MAX_DATA_URL_PREFIX_CHARS;
      return;
    }
    this.prefixDecided = true;
    this.held = [];
    this.heldBytes = 0;
    this.spooler = new DataUrlSpooler(declaredMime(prefix), unescaper, this.options);
    this.spooler.writeText(text.slice(prefix[0].length), raw);
  }
}

/** The payload of one data URL on its way to the spool: unescaped, strictly decoded, sniffed, written. */
class DataUrlSpooler {
  private readonly base64 = new StrictBase64Decoder();
  private readonly pass = new PassThrough();
  private readonly spooled: Promise<SpooledImage>;
  private head: Buffer = Buffer.alloc(0);
  private verdict: 'ok' | 'invalid_image' | 'invalid_json' = 'ok';

  constructor(
    private readonly declared: ImageMime,
    private readonly unescaper: JsonStringUnescaper,
    options: StreamedStringOptions,
  ) {
    this.spooled = options.spool.spoolFile(this.pass, options.field);
    this.spooled.catch(() => undefined); // settled in end(); a failure before then is not unhandled
  }

  write(raw: string): void {
    this.writeText(this.unescaper.write(raw), raw);
  }

  /** `text` is the unescaped form of (the end of) `raw`, which is only checked for control characters. */
  writeText(text: string, raw: string): void {
    if (this.verdict === 'ok') this.push(this.base64.write(text));
    if (this.base64.failed) this.reject();
    if (this.verdict === 'invalid_image' && CONTROL_CHAR.test(raw)) this.verdict = 'invalid_json';
  }

  async drained(): Promise<void> {
    if (this.verdict !== 'ok' || !this.pass.writableNeedDrain) return;
    await Promise.race([once(this.pass, 'drain'), this.spooled.catch(() => undefined)]);
  }

  async end(): Promise<StreamedImageString> {
    this.unescaper.end();
    if (this.verdict === 'ok') this.push(this.base64.end());
    if (this.base64.failed) this.reject();
    if (this.verdict === 'ok') this.checkHead(true);
    if (this.verdict === 'ok') this.pass.end();
    const settled = await this.spooled.then(
      (image): StreamedImageString => ({ kind: 'spooled', image }),
      (error: unknown): StreamedImageString =>
        isGatewayError(error) && error.code === 'invalid_image' ? { kind: 'invalid_image' } : { kind: 'failed', error },
    );
    return this.verdict === 'ok' ? settled : { kind: this.verdict };
  }

  async abort(): Promise<void> {
    this.pass.destroy();
    await this.spooled.catch(() => undefined);
  }

  private push(bytes: Buffer): void {
    if (bytes.length === 0 || this.verdict !== 'ok') return;
    if (this.head.length < SNIFF_HEAD_BYTES) {
      this.head = Buffer.concat([this.head, bytes.subarray(0, SNIFF_HEAD_BYTES - this.head.length)]);
      this.checkHead(false);
    }
    if (this.verdict === 'ok') this.pass.write(bytes);
  }

  /** The declared type must be the sniffed one, as parseImageDataUrl requires. */
  private checkHead(ended: boolean): void {
    if (this.head.length < SNIFF_HEAD_BYTES && !ended) return;
    if (sniffImageType(this.head) !== this.declared) this.reject();
  }

  private reject(): void {
    if (this.verdict !== 'ok') return;
    this.verdict = 'invalid_image';
    this.pass.destroy();
  }
}
