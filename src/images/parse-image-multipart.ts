import type { Readable } from 'node:stream';
import { GatewayError } from '../errors/codes.js';
import type { ImageInput, ImageRequest } from './image-request.js';
import { FIELD_POLICY, isPolicyField, ruleFor } from './field-policy.js';
import type { ImageSpool, SpooledImage } from './image-spool.js';
import { buildUnknownFieldError, buildUnsupportedFieldError, validateImageFields, type ImageLimits } from './validate-image-fields.js';

/**
 * One part of a multipart body, structurally what @fastify/multipart's `req.parts()` yields
 * (`MultipartFile` / `MultipartValue`): field values are `unknown` there because a part sent as
 * `application/json` arrives parsed; plain text fields are strings.
 */
export type MultipartPart =
  | { type: 'file'; fieldname: string; filename?: string; mimetype?: string; file: Readable }
  | { type: 'field'; fieldname: string; value: unknown; valueTruncated?: boolean };

type TextPart = Extract<MultipartPart, { type: 'field' }>;

/** ImageLimits plus the spool that receives this request's uploads (its byte limits apply). */
export type MultipartLimits = ImageLimits & { readonly spool: ImageSpool };

const INDEXED_IMAGE = /^image\[(0|[1-9]\d{0,3})\]$/;
/** `svg[model]`, `svg[reasoning][effort]`: how SDKs send an object field in a form. */
const BRACKETED = /^([a-z_]{1,32})\[/;
const FILE_FIELDS = new Set(['image', 'image[]', 'mask', 'markup']);
const INTEGER_TEXT = /^\d+$/;

/**
 * Parses a multipart edit (the only form the OpenAI SDKs send): files in `image`, repeated
 * `image[]` (arrival order) or `image[N]` (ordered by N), an optional `mask` file, and text fields
 * coerced to JSON types (`"2"` → 2, `"true"` → true; `""` means absent, as the Python SDK sends
 * None) and validated by the same validateImageFields as JSON, by FIELD_POLICY's `editsMultipart`
 * rules. Files are spooled as they arrive; a file the policy drops (`markup`) is read and discarded.
 * On any failure, including the iterator throwing (client abort, FST_REQ_FILE_TOO_LARGE), the
 * spool is cleaned up and the error rethrown; on success the caller owns the spool's cleanup.
 * @throws GatewayError with `param` naming the field at fault, or the iterator's own error.
 */
export async function parseImageMultipart(parts: AsyncIterable<MultipartPart>, limits: MultipartLimits): Promise<ImageRequest> {
  try {
    const collector = new MultipartCollector(limits);
    for await (const part of parts) {
      if (part.type === 'file') await collector.addFile(part.fieldname, part.file);
      else collector.addField(part);
    }
    return collector.finish();
  } catch (err) {
    await limits.spool.cleanup();
    throw err;
  }
}

/** The state of one multipart parse: text fields by name, spooled images with their sort keys, the mask. */
class MultipartCollector {
  private readonly texts = new Map<string, unknown>();
  private readonly images: { order: number; image: SpooledImage }[] = [];
  private readonly droppedFiles = new Set<string>();
  private indexedNames: boolean | null = null;
  private mask: SpooledImage | null = null;

  constructor(private readonly limits: MultipartLimits) {}

  async addFile(name: string, file: Readable): Promise<void> {
    try {
      if (this.dropsFile(name)) return void (await discard(file));
      this.checkFileName(name);
    } catch (err) {
      file.destroy();
      throw err;
    }
    const image = await this.limits.spool.spoolFile(file, name);
    if (name === 'mask') this.mask = image;
    else this.images.push({ order: this.sortKey(name), image });
  }

  addField({ fieldname, value, valueTruncated }: TextPart): void {
    if (value === '') return;
    if (FILE_FIELDS.has(fieldname) || INDEXED_IMAGE.test(fieldname)) {
      throw new GatewayError('invalid_request', `${fieldname} must be a file upload`, fieldname);
    }
    const objectField = objectFieldOf(fieldname);
    if (objectField !== null) {
      if (valueTruncated === true) throw new GatewayError('body_too_large', `${objectField} is too long`, objectField);
      if (!this.texts.has(objectField)) this.texts.set(objectField, {});
      return;
    }
    const name = fieldname;
    const known = isPolicyField(name) && ruleFor(name, 'editsMultipart').action !== 'absent';
    // A repeated unknown name is left for the validator, which reports it as unknown.
    if (known && this.texts.has(name)) throw new GatewayError('invalid_request', `${name} must be given once`, name);
    if (valueTruncated === true) throw new GatewayError('body_too_large', `${name} is too long`, name);
    this.texts.set(name, value);
  }

  finish(): ImageRequest {
    const fields = Object.fromEntries([...this.texts].map(([name, value]) => [name, coerceText(name, value)]));
    const validated = validateImageFields({ fields, form: 'editsMultipart', limits: this.limits });
    if (this.images.length === 0) throw new GatewayError('invalid_request', 'image is required', 'image');
    const images = [...this.images].sort((a, b) => a.order - b.order).map(({ image }) => toInput(image));
    const ignoredParams = [...validated.ignoredParams, ...this.droppedFiles].sort();
    return { endpoint: 'edits', ...validated, ignoredParams, images, mask: this.mask === null ? null : toInput(this.mask) };
  }

  /** True for a file part the policy drops (read and discarded); under the strict policy it is refused. */
  private dropsFile(name: string): boolean {
    if (ruleFor(name, 'editsMultipart').action !== 'drop') return false;
    if (this.limits.fieldPolicy === 'strict') throw buildUnsupportedFieldError(name);
    this.droppedFiles.add(name);
    return true;
  }

  /** Rejects a file part before any byte of it is spooled. */
  private checkFileName(name: string): void {
    const indexed = INDEXED_IMAGE.exec(name);
    if (name === 'mask') {
      if (this.mask !== null) throw new GatewayError('invalid_request', 'mask must be given once', 'mask');
      return;
    }
    if (indexed === null && name !== 'image' && name !== 'image[]') {
      throw buildUnknownFieldError(name);
    }
    const max = this.limits.maxInputImages;
    if (this.images.length >= max) {
      throw new GatewayError('invalid_request', `image must contain between 1 and ${max} files`, 'image');
    }
    if (this.indexedNames !== null && this.indexedNames !== (indexed !== null)) {
      throw new GatewayError('invalid_request', 'image files must all be named image/image[] or all image[N]', 'image');
    }
    if (indexed !== null && this.images.some(({ order }) => order === Number(indexed[1]))) {
      throw new GatewayError('invalid_request', `${name} must be given once`, name);
    }
    this.indexedNames = indexed !== null;
  }

  private sortKey(name: string): number {
    const indexed = INDEXED_IMAGE.exec(name);
    return indexed === null ? this.images.length : Number(indexed[1]);
  }
}

/** Multipart text → the JSON type the shared validator expects; anything unrecognised stays text and fails there. */
function coerceText(name: string, value: unknown): unknown {
  if (typeof value !== 'string' || !isPolicyField(name)) return value;
  const kind = FIELD_POLICY[name].value.kind;
  if (kind === 'integer') return INTEGER_TEXT.test(value) ? Number(value) : value;
  if (kind === 'boolean' && (value === 'true' || value === 'false')) return value === 'true';
  return value;
}

/** The object field a bracketed part name belongs to (`svg[model]` → `svg`), or null. */
function objectFieldOf(name: string): string | null {
  const base = BRACKETED.exec(name)?.[1];
  return base !== undefined && isPolicyField(base) && FIELD_POLICY[base].value.kind === 'object' ? base : null;
}

/** Reads a dropped upload to its end without keeping it (the multipart limits still bound its size). */
async function discard(file: Readable): Promise<void> {
  for await (const _chunk of file) {
    // Nothing is kept: the part must be consumed for the parser to reach the next one.
  }
}

const toInput = (image: SpooledImage): ImageInput => ({ kind: 'spooled', mime: image.mime, bytes: image.bytes, file: image });
