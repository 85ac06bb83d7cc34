import type { FastifyRequest } from 'fastify';
import type { Config } from '../config/config.js';
import type { ImageEndpoint, ImageRequest } from '../images/image-request.js';
import { MAX_PROMPT_CHARS } from '../images/image-options.js';
import { parseImageJson } from '../images/parse-image-json.js';
import { resolveImageModel } from '../images/model-aliases.js';
import type { ImageLimits } from '../images/validate-image-fields.js';
import { buildModelRouting } from './model-routing.js';
import type { Snapshot } from '../store/types.js';
import { parseImageMultipart } from '../images/parse-image-multipart.js';
import type { ImageSpool } from '../images/image-spool.js';
import { GatewayError, isGatewayError } from '../errors/codes.js';
import { parseMediaType } from './image-gate.js';

/** The validation rules of the public API, from the configuration and the current settings. */
export const imageLimitsFrom = (config: Config, snapshot: Snapshot): ImageLimits => ({
  resolveModel: (requested) => resolveImageModel(requested, buildModelRouting(snapshot, config.allowedModels)),
  maxInputImages: config.maxInputImages,
  maxPromptChars: MAX_PROMPT_CHARS,
  fieldPolicy: snapshot.settings.fieldPolicy,
});


/** Reads and validates the body as JSON (raw text, parsed by the images room) or multipart (streamed to the spool). */
export async function parseImageBody(
  endpoint: ImageEndpoint,
  req: FastifyRequest,
  config: Config,
  snapshot: Snapshot,
  spool: ImageSpool,
): Promise<ImageRequest> {
  const limits = imageLimitsFrom(config, snapshot);
  if (parseMediaType(req.headers['content-type']) === 'multipart/form-data') {
    return parseImageMultipart(req.parts(), { ...limits, spool }).catch((err: unknown) => {
      throw asMultipartError(err);
    });
  }
  return parseImageJson(endpoint, req.body as string, limits);
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
