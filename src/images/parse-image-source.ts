import { assertNever } from '../guards/assert-never.js';
import { GatewayError } from '../errors/codes.js';
import { isJsonObject } from '../guards/is-json-object.js';
import type { ImageInput } from './image-request.js';
import { buildInvalidImageError, parseImageDataUrl } from './parse-image-data-url.js';
import type { StreamedImageString } from './streamed-image-string.js';

/** Maps a string of a streamed body back to what it stood for; undefined for an ordinary string. */
export type ResolveStreamedString = (value: string) => StreamedImageString | undefined;

const HTTP_PREFIX = /^https?:\/\//i;

/**
 * Turns one JSON image reference (an `images[i]` element or `mask`) into an ImageInput. Accepted
 * forms: a string, or `{"image_url": string}` (the OpenAI JSON edit shape and what Codex sends),
 * holding an http(s) URL (forwarded, never fetched) or a PNG/JPEG/WebP base64 data URL (checked
 * by magic bytes). Messages never quote the URL or the data. A body parsed as it streamed
 * (parseImageJsonStream) holds placeholders where its image strings were: `resolve` maps them back,
 * so a spooled data URL becomes a `spooled` input and its failure the same error as inline.
 * @throws GatewayError: file_id_not_supported, invalid_request (shape) or invalid_image, param = `param`.
 */
export function parseImageSource(value: unknown, param: string, resolve?: ResolveStreamedString): ImageInput {
  if (typeof value === 'string') return parseImageRef(value, param, resolve);
  if (isJsonObject(value) && Object.hasOwn(value, 'file_id')) {
    throw new GatewayError(
      'file_id_not_supported',
      'file_id image references are not supported; send the image as a data URL or upload it as multipart',
      param,
    );
  }
  const keys = isJsonObject(value) ? Object.keys(value) : [];
  const imageUrl = isJsonObject(value) ? value.image_url : undefined;
  if (keys.length === 1 && typeof imageUrl === 'string') return parseImageRef(imageUrl, param, resolve);
  throw new GatewayError('invalid_request', 'image source must be a string or {"image_url": ...}', param);
}

function parseImageRef(ref: string, param: string, resolve: ResolveStreamedString | undefined): ImageInput {
  const streamed = resolve?.(ref);
  if (streamed !== undefined) return parseStreamedRef(streamed, param);
  const dataUrl = parseImageDataUrl(ref, param);
  if (dataUrl !== null) return { kind: 'inline', mime: dataUrl.mime, bytes: dataUrl.bytes, dataUrl: ref };
  if (isHttpUrl(ref)) return { kind: 'url', url: ref };
  throw new GatewayError('invalid_image', 'image source must be an http(s) URL or supported image data URL', param);
}

function parseStreamedRef(streamed: StreamedImageString, param: string): ImageInput {
  switch (streamed.kind) {
    case 'text':
      return parseImageRef(streamed.text, param, undefined);
    case 'spooled':
      return { kind: 'spooled', mime: streamed.image.mime, bytes: streamed.image.bytes, file: streamed.image };
    case 'invalid_image':
      throw buildInvalidImageError(param);
    case 'invalid_json':
      // parseImageJsonStream refuses such a body before any field is looked at.
      throw new GatewayError('invalid_json', 'request body must be valid JSON');
    case 'failed':
      throw streamed.error;
    default:
      return assertNever(streamed);
  }
}

/** True for an absolute http(s) URL with a host; the prefix check keeps out `http:host` and leading spaces. */
function isHttpUrl(ref: string): boolean {
  if (!HTTP_PREFIX.test(ref) || !URL.canParse(ref)) return false;
  const url = new URL(ref);
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.host !== '';
}
