import type { FastifyBaseLogger } from 'fastify';
import { GatewayError } from '../errors/codes.js';
import { HOSTED_RESULT_URL_PATH } from '../images/endpoint-aliases.js';
import type { ImageMime, ImageRequest } from '../images/image-request.js';
import { sniffImageType } from '../images/sniff-image-type.js';
import type { HostedImageStore } from '../observe/hosted-image-replacer.js';
import type { GatewayDeps } from './gateway-deps.js';

/** `response_format: url` answered with hosted result URLs (RESULT_URL_MODE=hosted). */
export interface HostedImages {
  /** For the response tap: uploads that know their public URL before their bytes. */
  store: HostedImageStore;
  /** The content type of an image whose bytes are not a PNG, JPEG or WebP: the requested format. */
  fallbackType: ImageMime;
  /** Stores an image held whole (fan-out parts, the Responses fallback) and returns its URL. */
  host(bytes: Buffer): Promise<string>;
}

/** `<PUBLIC_BASE_URL>/v1/images/results/<token>`: what a client fetches the image at. */
export const buildHostedResultUrl = (publicBaseUrl: string, token: string): string => `${publicBaseUrl}${HOSTED_RESULT_URL_PATH}/${token}`;

/** The hosting for this request, or null when its `url` answer is a data URL (or it asked for b64_json). */
export function resolveHostedImages(deps: GatewayDeps, request: ImageRequest): HostedImages | null {
  const { resultUrlMode, publicBaseUrl } = deps.config;
  const results = deps.hostedResults;
  if (request.responseFormat !== 'url' || resultUrlMode !== 'hosted' || !results || publicBaseUrl === null) return null;
  const fallbackType: ImageMime = `image/${request.options.output_format ?? 'png'}`;
  return {
    store: {
      begin() {
        const upload = results.begin();
        return { url: buildHostedResultUrl(publicBaseUrl, upload.token), write: upload.write, commit: upload.commit };
      },
    },
    fallbackType,
    host: async (bytes) => buildHostedResultUrl(publicBaseUrl, await results.store(bytes, sniffImageType(bytes) ?? fallbackType)),
  };
}

/** The error a request gets when its image could not be stored (the cause goes to the app log, never to the client). */
export const buildResultStoreError = (cause: unknown): GatewayError =>
  new GatewayError('result_store_failed', 'the image was generated but could not be stored for its URL; retry the request', null, { cause });

/** Tells the app log why a result could not be stored: the database's code and message, never the image or its token. */
export function logResultStoreFailure(log: FastifyBaseLogger, err: unknown): void {
  const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
  const code = typeof cause === 'object' && cause !== null ? (cause as { code?: unknown }).code : undefined;
  log.warn({ err: { code, message: cause instanceof Error ? cause.message : String(cause) } }, 'hosted result could not be stored');
}

/**
 * An Images API body held in memory with each `data[i].b64_json` stored and replaced by
 * `url` (its hosted URL), in place of its position; other members are kept. Resolves once every row
 * is committed. @throws GatewayError('result_store_failed') when one could not be stored.
 */
export async function hostImagesResponse<T extends { data?: unknown }>(body: T, hosted: HostedImages): Promise<T> {
  if (!Array.isArray(body.data)) return body;
  try {
    const data = await Promise.all(body.data.map((item: unknown) => hostEntry(item, hosted)));
    return { ...body, data };
  } catch (err) {
    throw buildResultStoreError(err);
  }
}

async function hostEntry(item: unknown, hosted: HostedImages): Promise<unknown> {
  if (typeof item !== 'object' || item === null) return item;
  const { b64_json: b64, ...rest } = item as { b64_json?: unknown; [key: string]: unknown };
  if (typeof b64 !== 'string') return item;
  return { url: await hosted.host(Buffer.from(b64, 'base64')), ...rest };
}
