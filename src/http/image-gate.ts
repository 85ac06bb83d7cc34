import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors/codes.js';
import type { ImageEndpoint } from '../images/image-request.js';
import type { KeyRecord } from '../store/types.js';
import type { BodyBudget } from '../limits/body-budget.js';
import { admitBody } from './body-admission.js';
import type { GatewayDeps } from './gateway-deps.js';
import { resolveGatewayKey } from './resolve-gateway-key.js';
import { checkKeyBudget } from './budget-gate.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated key, set by the image gate before the body is read. */
    gatewayKey?: KeyRecord;
  }
}

/** Media types each endpoint accepts (the part of Content-Type before `;`, lower-cased). */
export const ACCEPTED_MEDIA_TYPES = {
  generations: ['application/json'],
  edits: ['application/json', 'multipart/form-data'],
} as const satisfies Record<ImageEndpoint, readonly string[]>;

/** The media type of a Content-Type header value, lower-cased; '' when absent. */
export const parseMediaType = (header: string | undefined): string => (header ?? '').split(';')[0]!.trim().toLowerCase();

/**
 * The checks that run before the body is read, in the original's order: method,
 * content type, bearer, key, key status (these three: resolveGatewayKey), image switch, budget
 * (used up already; the request's own estimate is reserved once its body is read).
 * Throws GatewayError; on success sets `req.gatewayKey`.
 */
export function createImageGate(endpoint: ImageEndpoint, deps: GatewayDeps, bodyBudget: BodyBudget) {
  const accepted: readonly string[] = ACCEPTED_MEDIA_TYPES[endpoint];
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (req.method !== 'POST') {
      throw new GatewayError('method_not_allowed', 'image endpoint requires POST', null, { headers: { allow: 'POST' } });
    }
    const mediaType = parseMediaType(req.headers['content-type']);
    if (!accepted.includes(mediaType)) {
      const want = endpoint === 'edits' ? 'JSON or multipart/form-data' : 'JSON';
      throw new GatewayError('unsupported_media_type', `image endpoint requires ${want}`);
    }
    const { key, snapshot } = resolveGatewayKey(req, deps.snapshots, deps.now());
    if (!key.imageEnabled) throw new GatewayError('image_disabled', 'codex image generation is disabled for this key');
    checkKeyBudget(key, snapshot, deps);
    req.gatewayKey = key;
    startBodyDeadline(req, reply, deps.config.bodyReadTimeoutMs);
    admitBody(req, reply, mediaType, bodyBudget, deps.config);
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Stops the body-read deadline; called once the body has been read (or failed to be). */
    endBodyDeadline?: () => void;
  }
}

/**
 * A client must finish sending its body within `timeoutMs`, or its connection is cut: a key holder
 * trickling bytes cannot hold sockets, memory or spool files open for ever (the server itself has no
 * request timeout, because answers legitimately take minutes). Cleared by `req.endBodyDeadline()`
 * once the body is parsed, and when the response ends.
 */
function startBodyDeadline(req: FastifyRequest, reply: FastifyReply, timeoutMs: number): void {
  const timer = setTimeout(() => req.raw.destroy(), timeoutMs);
  timer.unref();
  const end = () => clearTimeout(timer);
  req.endBodyDeadline = end;
  reply.raw.once('close', end);
}
