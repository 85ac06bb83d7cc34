import { GatewayError } from '../errors/codes.js';
import { JsonStreamLexer } from '../json/json-stream-lexer.js';
import type { ImageEndpoint, ImageRequest } from './image-request.js';
import { ImageJsonSink } from './image-json-sink.js';
import type { ImageSpool } from './image-spool.js';
import { parseImageJson } from './parse-image-json.js';
import type { ImageLimits } from './validate-image-fields.js';

/** Raw bytes an image string may reach before a data URL in it is streamed to the spool (shorter ones stay in memory). */
export const DEFAULT_SPILL_BYTES = 64 * 1024;

/** ImageLimits plus the spool that receives this request's data URLs. */
export type StreamedJsonLimits = ImageLimits & {
  readonly spool: ImageSpool;
  /** See DEFAULT_SPILL_BYTES; tests lower it to stream every data URL. */
  readonly spillBytes?: number;
};

const invalidJson = () => new GatewayError('invalid_json', 'request body must be valid JSON');

/**
 * Parses a JSON image request as its body arrives, with the same outcome as parseImageJson on the
 * whole text, but without holding its images: JsonStreamLexer walks the bytes, ImageJsonSink takes
 * every image-reference string out (a long data URL is decoded and spooled, encrypted, as it
 * arrives, exactly like a multipart file) and leaves a placeholder, and the small rest of the body
 * is then parsed and validated by parseImageJson itself (secure-json-parse, number literals,
 * FIELD_POLICY), which resolves the placeholders. Errors keep their order: the whole body is read
 * first (so a size limit still wins), then invalid JSON, then the fields in parseImageJson's order.
 * A body the lexer gives up on (nesting deeper than it tracks) passes through untouched and is
 * parsed as text, as before. On failure the spool is cleaned up; on success the caller owns it.
 * @throws GatewayError as parseImageJson does, or the body's own error (size limit, abort).
 */
export async function parseImageJsonStream(endpoint: ImageEndpoint, body: AsyncIterable<Buffer>, limits: StreamedJsonLimits): Promise<ImageRequest> {
  const sink = new ImageJsonSink({ imageSlots: endpoint === 'edits', spool: limits.spool, spillBytes: limits.spillBytes ?? DEFAULT_SPILL_BYTES });
  try {
    const rest = await readRest(body, sink);
    await sink.settle();
    if (sink.hasInvalidJson()) throw invalidJson();
    return parseImageJson(endpoint, rest, limits, (value) => sink.lookup(value));
  } catch (err) {
    await sink.abort();
    await limits.spool.cleanup();
    throw err;
  }
}

/** Feeds the body through the lexer and returns its output (the body minus its image strings) as text. */
async function readRest(body: AsyncIterable<Buffer>, sink: ImageJsonSink): Promise<string> {
  const lexer = new JsonStreamLexer(sink);
  const kept: Buffer[] = [];
  // Copied: a view would keep the whole input chunk (mostly image data) alive.
  const keep = (bytes: Buffer) => kept.push(Buffer.from(bytes));
  for await (const chunk of body) {
    lexer.write(chunk, keep);
    await sink.drained();
  }
  lexer.end(keep);
  // The body ended, or broke the grammar, inside an image string: the text is not JSON.
  if (sink.insideImageString) throw invalidJson();
  return Buffer.concat(kept).toString('utf8');
}
