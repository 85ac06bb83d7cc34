import type { FastifyRequest } from 'fastify';
import type { Config } from '../config/config.js';
import type { ImageEndpoint, ImageRequest } from '../images/image-request.js';
import { MAX_PROMPT_CHARS } from '../images/image-options.js';
import type { Readable } from 'node:stream';
import { DEFAULT_SPILL_BYTES, parseImageJsonStream } from '../images/parse-image-json-stream.js';
import { parseImageJson } from '../images/parse-image-json.js';
import { resolveImageModel } from '../images/model-aliases.js';
import type { ImageLimits } from '../images/validate-image-fields.js';
import { buildModelRouting } from './model-routing.js';
import type { Snapshot } from '../store/types.js';
import { parseImageMultipart } from '../images/parse-image-multipart.js';
import type { ImageSpool, ImageSpoolOptions } from '../images/image-spool.js';
import { GatewayError, isGatewayError } from '../errors/codes.js';
import { parseMediaType } from './image-gate.js';
import { meterMultipartBody } from './multipart-meter.js';
import { readRequestBody, readRequestBytes } from './request-body.js';

/** The validation rules of the public API, from the configuration and the current settings. */
export const imageLimitsFrom = (config: Config, snapshot: Snapshot): ImageLimits => ({
  resolveModel: (requested) => resolveImageModel(requested, buildModelRouting(snapshot, config.allowedModels)),
  maxInputImages: config.maxInputImages,
  maxPromptChars: MAX_PROMPT_CHARS,
  fieldPolicy: snapshot.settings.fieldPolicy,
});

/**
 * The byte limits of a request's spool. Multipart files have their own (MAX_UPLOAD_*); a JSON body's
 * data URLs are bounded by MAX_JSON_BODY_BYTES alone, as when they were held in memory, so the spool
 * never refuses what the body limit let through.
 */
export function spoolLimitsFor(req: FastifyRequest, config: Config): Pick<ImageSpoolOptions, 'maxFileBytes' | 'maxTotalBytes'> {
  if (parseMediaType(req.headers['content-type']) === 'multipart/form-data') {
    return { maxFileBytes: config.maxUploadFileBytes, maxTotalBytes: config.maxUploadTotalBytes };
  }
  return { maxFileBytes: config.maxJsonBodyBytes, maxTotalBytes: config.maxJsonBodyBytes };
}

/**
 * Reads and validates the body as it arrives: JSON through the images room's streaming parser (its
 * data URLs spooled), or multipart (files spooled). A chunked body is charged to the body budget as
 * its bytes arrive (`req.chargeBodyBytes`).
 */
export async function parseImageBody(
  endpoint: ImageEndpoint,
  req: FastifyRequest,
  config: Config,
  snapshot: Snapshot,
  spool: ImageSpool,
): Promise<ImageRequest> {
  const limits = imageLimitsFrom(config, snapshot);
  if (parseMediaType(req.headers['content-type']) === 'multipart/form-data') {
    const parts = req.parts();
    const metered = req.chargeBodyBytes ? meterMultipartBody(req.raw, parts, req.chargeBodyBytes) : parts;
    return parseImageMultipart(metered, { ...limits, spool }).catch((err: unknown) => {
      throw asMultipartError(err);
    });
  }
  const payload = req.body as Readable;
  // The streaming parser keeps large images out of memory; a body no larger than what it would hold
  // in memory anyway is read whole and parsed once (the same outcome, by parse-image-json-stream's
  // contract), which for a typical 100-byte generation costs a fraction of the parser's machinery.
  if (Number(req.headers['content-length']) <= DEFAULT_SPILL_BYTES) {
    const text = (await readRequestBytes(req, payload, config.maxJsonBodyBytes)).toString('utf8');
    return parseImageJson(endpoint, text, limits);
  }
  return parseImageJsonStream(endpoint, readRequestBody(req, payload, config.maxJsonBodyBytes), { ...limits, spool });
}

/** @fastify/multipart's limit errors: the error handler turns them into 413s. */
const MULTIPART_LIMIT_CODES: ReadonlySet<string> = new Set(['FST_REQ_FILE_TOO_LARGE', 'FST_PARTS_LIMIT', 'FST_FILES_LIMIT', 'FST_FIELDS_LIMIT']);

/**
 * Multipart failures the client caused: busboy's parse errors (no boundary, truncated body, bad part
 * headers) carry no code, and a few @fastify/multipart codes (a JSON field that does not parse, a
 * `__proto__` part name) would otherwise be misreported. All of them are the client's malformed
 * body: 400 `invalid multipart body`, never a 500. Limit errors keep their code (413).
 */
function asMultipartError(err: unknown): unknown {
  if (isGatewayError(err)) return err;
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (typeof code === 'string' && MULTIPART_LIMIT_CODES.has(code)) return err;
  return new GatewayError('invalid_request', 'invalid multipart body');
}
