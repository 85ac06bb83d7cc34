import type { ImageMime } from '../images/image-request.js';
import { SNIFF_HEAD_BYTES, sniffImageType } from '../images/sniff-image-type.js';
import type { ImageValueReplacer } from './image-response-sink.js';
import { JsonBase64Decoder } from '../json/json-base64-decoder.js';

/** One image on its way to its hosted URL (store/hosted-results.ts behind a URL builder in the HTTP room). */
export interface HostedImageUpload {
  /** The absolute URL the client gets; known before the image's bytes. */
  readonly url: string;
  /** Takes one piece of the image's decoded bytes (sealed at once, never kept in clear). */
  write(bytes: Buffer): void;
  /** Stores the image; resolves once it can be fetched. Called once, after the last `write`. */
  commit(contentType: ImageMime): Promise<void>;
}

/** Where hosted images go. */
export interface HostedImageStore {
  /** Starts one image. */
  begin(): HostedImageUpload;
}

/** Raised by a hosted-mode tap when an image could not be stored; `code` is stable for classification. */
export class HostedResultStoreError extends Error {
  readonly code = 'RESULT_STORE_FAILED';
  constructor(cause: unknown) {
    super('a hosted result could not be stored', { cause });
    this.name = 'HostedResultStoreError';
  }
}

/** An ImageValueReplacer that also says when every image it started is stored. */
export interface HostedImageReplacer extends ImageValueReplacer {
  /** Resolves once every image whose value ended is committed; rejects with HostedResultStoreError on the first failure. */
  settled(): Promise<void>;
}

/**
 * Replaces each `data[i].b64_json` value with its hosted URL: the base64 text is decoded piece by
 * piece into the upload (which seals it), the content type is sniffed from the first decoded bytes
 * (else `fallbackType`, the requested format), and the row is committed when the value ends. An
 * image whose value never ended (the body broke off) is never committed, so its URL never works.
 */
export function createHostedImageReplacer(store: HostedImageStore, fallbackType: ImageMime): HostedImageReplacer {
  const commits: Promise<void>[] = [];
  let upload: HostedImageUpload | null = null;
  let decoder = new JsonBase64Decoder();
  let head = Buffer.alloc(0);
  const feed = (bytes: Buffer) => {
    if (bytes.length === 0 || !upload) return;
    if (head.length < SNIFF_HEAD_BYTES) head = Buffer.concat([head, bytes.subarray(0, SNIFF_HEAD_BYTES - head.length)]);
    upload.write(bytes);
  };
  return {
    onImageStart() {
      upload = store.begin();
      decoder = new JsonBase64Decoder();
      head = Buffer.alloc(0);
      return Buffer.from(JSON.stringify(upload.url).slice(1, -1), 'utf8');
    },
    onImageBytes: (raw) => feed(decoder.write(raw)),
    onImageEnd() {
      feed(decoder.end());
      if (!upload) return;
      const committed = upload.commit(sniffImageType(head) ?? fallbackType);
      committed.catch(() => undefined); // reported by settled(); never an unhandled rejection
      commits.push(committed);
      upload = null;
    },
    settled: () =>
      Promise.all(commits).then(
        () => undefined,
        (err: unknown) => Promise.reject(new HostedResultStoreError(err)),
      ),
  };
}
