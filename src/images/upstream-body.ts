import { Readable } from 'node:stream';
import { assertNever } from '../guards/assert-never.js';
import { type ImageInput, type ImageRequest, type SpooledFile, UPSTREAM_OPTIONS, type UpstreamBody } from './image-request.js';

/**
 * A piece of the upstream JSON: small text (UTF-8), a large string already known to be JSON-safe
 * ASCII (a validated data URL, sent in slices so it is never copied whole), or a spooled file
 * sent as base64.
 */
type Segment = { kind: 'text'; text: string } | { kind: 'ascii'; text: string } | { kind: 'base64'; file: SpooledFile };

/** Characters per slice of a large ASCII string, and a multiple of 3 for base64 output chunks. */
const SLICE_CHARS = 64 * 1024;
/** Printable ASCII except `"` and `\`: needs no JSON escaping and is one byte per character. */
const JSON_UNSAFE = /[^\x20\x21\x23-\x5b\x5d-\x7e]/;

/**
 * Builds the Codex upstream JSON body from a validated request: `model` always,
 * `prompt`, `n` only when the client gave it, the options that were given, and for edits
 * `images: [{"image_url": …}]` and `mask: {"image_url": …}` as the Codex CLI sends. Never
 * `response_format`, `user`, `stream` or `partial_images`. Spooled uploads become data URLs encoded
 * on the fly, so memory stays bounded; `contentLength` is computed, not measured; `open()` returns
 * a fresh stream each call (one per failover attempt); a small body of text alone is also given
 * whole as `bytes`.
 */
export function buildUpstreamBody(req: ImageRequest): UpstreamBody {
  return assembleBody(buildSegments(req));
}

/** Bodies up to this size made of text segments only are held as one Buffer (`UpstreamBody.bytes`). */
const MAX_HELD_BODY_BYTES = 64 * 1024;

function assembleBody(segments: readonly Segment[]): UpstreamBody {
  const contentLength = segments.reduce((sum, segment) => sum + measureSegment(segment), 0);
  const open = () => Readable.from(streamSegments(segments), { objectMode: false });
  const texts = segments.filter((s): s is Extract<Segment, { kind: 'text' }> => s.kind === 'text');
  if (contentLength > MAX_HELD_BODY_BYTES || texts.length !== segments.length) return { contentLength, open };
  return { contentLength, open, bytes: Buffer.from(texts.map((s) => s.text).join(''), 'utf8') };
}

/**
 * Builds the Codex Responses API request that makes the image with the `image_generation` tool:
 * the prompt as `input_text`, edit images as `input_image` parts (streamed like the
 * images body), the request's options and `partial_images` on the tool, `store: false`,
 * `stream: true`. `hostModel` is the chat model that calls the tool.
 */
export function buildResponsesUpstreamBody(req: ImageRequest, hostModel: string): UpstreamBody {
  return assembleBody(buildResponsesSegments(req, hostModel));
}

function buildResponsesSegments(req: ImageRequest, hostModel: string): Segment[] {
  const options = Object.fromEntries(UPSTREAM_OPTIONS.map((name) => [name, req.options[name]]));
  const tool = JSON.stringify({
    type: 'image_generation',
    action: req.endpoint === 'edits' ? 'edit' : 'generate',
    model: req.model,
    ...options,
    partial_images: req.partialImages,
  });
  const images = req.images.flatMap((input) => [text(',{"type":"input_image","image_url":'), ...buildStringSegments(input), text('}')]);
  const mask = req.mask === null ? [text(tool)] : [text(`${tool.slice(0, -1)},"input_image_mask":{"image_url":`), ...buildStringSegments(req.mask), text('}}')];
  return [
    text(
      `{"model":${JSON.stringify(hostModel)},"instructions":"","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":${JSON.stringify(req.prompt)}}`,
    ),
    ...images,
    text(']}],"tools":['),
    ...mask,
    text('],"tool_choice":{"type":"image_generation"},"store":false,"stream":true}'),
  ];
}

const text = (value: string): Segment => ({ kind: 'text', text: value });

function buildSegments(req: ImageRequest): Segment[] {
  const options = Object.fromEntries(UPSTREAM_OPTIONS.map((name) => [name, req.options[name]]));
  const head = JSON.stringify({ model: req.model, prompt: req.prompt, ...(req.nGiven ? { n: req.n } : {}), ...options });
  if (req.endpoint === 'generations') return [text(head)];
  const images = req.images.flatMap((input, i) => buildImageRef(i === 0 ? '' : ',', input));
  const mask = req.mask === null ? [] : buildImageRef(',"mask":', req.mask);
  return [text(`${head.slice(0, -1)},"images":[`), ...images, text(']'), ...mask, text('}')];
}

/** `{"image_url":"…"}` after `lead`. */
function buildImageRef(lead: string, input: ImageInput): Segment[] {
  return [text(`${lead}{"image_url":`), ...buildStringSegments(input), text('}')];
}

/** The JSON string holding one image reference. */
function buildStringSegments(input: ImageInput): Segment[] {
  switch (input.kind) {
    case 'url':
      return [text(JSON.stringify(input.url))];
    case 'inline':
      return JSON_UNSAFE.test(input.dataUrl) ? [text(JSON.stringify(input.dataUrl))] : [text('"'), { kind: 'ascii', text: input.dataUrl }, text('"')];
    case 'spooled':
      return [text(`"data:${input.mime};base64,`), { kind: 'base64', file: input.file }, text('"')];
    default:
      return assertNever(input);
  }
}

function measureSegment(segment: Segment): number {
  switch (segment.kind) {
    case 'text':
      return Buffer.byteLength(segment.text, 'utf8');
    case 'ascii':
      return segment.text.length;
    case 'base64':
      return Math.ceil(segment.file.bytes / 3) * 4;
    default:
      return assertNever(segment);
  }
}

async function* streamSegments(segments: readonly Segment[]): AsyncGenerator<Buffer> {
  for (const segment of segments) {
    if (segment.kind === 'text') yield Buffer.from(segment.text, 'utf8');
    else if (segment.kind === 'ascii') yield* sliceAscii(segment.text);
    else yield* encodeBase64(segment.file);
  }
}

function* sliceAscii(text: string): Generator<Buffer> {
  for (let at = 0; at < text.length; at += SLICE_CHARS) yield Buffer.from(text.slice(at, at + SLICE_CHARS), 'latin1');
}

/**
 * Base64 of a spooled file, encoded in 3-byte-aligned chunks so the pieces concatenate to the
 * base64 of the whole. Fails the stream if the file's length is not the one `contentLength` promised.
 */
async function* encodeBase64(file: SpooledFile): AsyncGenerator<Buffer> {
  let carry: Buffer = Buffer.alloc(0);
  let seenBytes = 0;
  for await (const chunk of file.openRaw() as AsyncIterable<Buffer>) {
    seenBytes += chunk.length;
    const bytes = carry.length === 0 ? chunk : Buffer.concat([carry, chunk]);
    const aligned = bytes.length - (bytes.length % 3);
    if (aligned > 0) yield Buffer.from(bytes.subarray(0, aligned).toString('base64'), 'latin1');
    carry = bytes.subarray(aligned);
  }
  if (seenBytes !== file.bytes) throw new Error(`spooled file changed size: expected ${file.bytes} bytes, read ${seenBytes}`);
  if (carry.length > 0) yield Buffer.from(carry.toString('base64'), 'latin1');
}
