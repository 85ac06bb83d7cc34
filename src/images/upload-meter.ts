import { Transform, type TransformCallback } from 'node:stream';
import { GatewayError } from '../errors/codes.js';
import type { ImageMime } from './image-request.js';
import { SNIFF_HEAD_BYTES, sniffImageType } from './sniff-image-type.js';

/** What an UploadMeter enforces. */
export interface UploadMeterOptions {
  /** The multipart field name, used as the error `param` and in messages. */
  readonly field: string;
  /** Most bytes this one upload may have. */
  readonly maxFileBytes: number;
  /** Claims `bytes` more from a shared budget; throws a GatewayError when the budget is spent. */
  readonly reserveBytes: (bytes: number) => void;
}

/**
 * A pass-through stream that counts an upload's bytes and identifies its type from the first
 * bytes, failing the moment a limit is passed or the head is not PNG/JPEG/WebP, so a pipeline
 * stops reading (and destroys its source) without waiting for the rest of the upload.
 */
export class UploadMeter extends Transform {
  /** Bytes seen so far. */
  bytes = 0;
  /** The sniffed type once known (before the end of the upload for anything over 12 bytes). */
  mime: ImageMime | null = null;
  private head: Buffer = Buffer.alloc(0);

  constructor(private readonly options: UploadMeterOptions) {
    super();
  }

  override _transform(chunk: unknown, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
      this.count(bytes.length);
      this.sniff(bytes, false);
      callback(null, bytes);
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.sniff(Buffer.alloc(0), true);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  private count(chunkBytes: number): void {
    const { field, maxFileBytes } = this.options;
    this.bytes += chunkBytes;
    if (this.bytes > maxFileBytes) {
      throw new GatewayError('body_too_large', `${field} is larger than ${maxFileBytes} bytes`, field);
    }
    this.options.reserveBytes(chunkBytes);
  }

  private sniff(chunk: Buffer, ended: boolean): void {
    if (this.mime !== null) return;
    if (this.head.length < SNIFF_HEAD_BYTES) {
      this.head = Buffer.concat([this.head, chunk.subarray(0, SNIFF_HEAD_BYTES - this.head.length)]);
    }
    if (this.head.length < SNIFF_HEAD_BYTES && !ended) return;
    this.mime = sniffImageType(this.head);
    if (this.mime === null) {
      const { field } = this.options;
      throw new GatewayError('invalid_image', `${field} is not a valid PNG, JPEG or WebP image`, field);
    }
  }
}
