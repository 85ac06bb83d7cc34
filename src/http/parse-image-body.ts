import type { FastifyRequest } from 'fastify';
import type { Config } from '../config/config.js';
import type { ImageEndpoint, ImageRequest } from '../images/image-request.js';
import { MAX_PROMPT_CHARS } from '../images/image-options.js';
import { parseImageJson } from '../images/parse-image-json.js';
import type { ImageLimits } from '../images/validate-image-fields.js';
import { parseImageMultipart, type MultipartPart } from '../images/parse-image-multipart.js';
import type { ImageSpool } from '../images/image-spool.js';
import { parseMediaType } from './image-gate.js';

/** The validation limits of the public API, from the configuration. */
export const imageLimitsFrom = (config: Config): ImageLimits => ({
  allowedModels: config.allowedModels,
  maxInputImages: config.maxInputImages,
  maxPromptChars: MAX_PROMPT_CHARS,
});

/** Reads and validates the body as JSON (raw text, parsed by the images room) or multipart (streamed to the spool). */
export async function parseImageBody(
  endpoint: ImageEndpoint,
  req: FastifyRequest,
  config: Config,
  spool: ImageSpool,
): Promise<ImageRequest> {
  const limits = imageLimitsFrom(config);
  if (parseMediaType(req.headers['content-type']) === 'multipart/form-data') {
    return parseImageMultipart(req.parts() as AsyncIterable<MultipartPart>, { ...limits, spool });
  }
  return parseImageJson(endpoint, req.body as string, limits);
}
