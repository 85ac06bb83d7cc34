import { finished, type Readable } from 'node:stream';
import { errorCodes, type FastifyRequest } from 'fastify';
import { isGatewayError } from '../errors/codes.js';

/**
 * A request body as it arrives, in chunks, under the same rules Fastify applies to a body it reads
 * whole: a declared Content-Length past `maxBytes` is refused before reading, and so is the first
 * chunk that takes the body past it (FST_ERR_CTP_BODY_TOO_LARGE → 413); a body shorter than its
 * Content-Length is FST_ERR_CTP_INVALID_CONTENT_LENGTH; a read error gets status 400. Each chunk is
 * charged to the body budget as it arrives when the request has `chargeBodyBytes` (a chunked body).
 * The stream is never destroyed on an early exit, so the error can still be answered on its socket
 * (the error handler then closes the connection, since the rest of the body is not read).
 */
export async function* readRequestBody(req: FastifyRequest, payload: Readable, maxBytes: number): AsyncGenerator<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > maxBytes) throw new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE();
  let received = 0;
  try {
    for await (const chunk of payload.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer | string>) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      received += bytes.length;
      if (received > maxBytes) throw new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE();
      req.chargeBodyBytes?.(bytes.length);
      yield bytes;
    }
  } catch (err) {
    throw asReadError(err);
  }
  if (!Number.isNaN(declared) && received !== declared) throw new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH();
}

/**
 * A body read whole, under readRequestBody's rules, with plain stream events: for a small body the
 * async iterators of the chunked reader cost more than the parse itself. A size error stops reading
 * (the stream is paused, not destroyed, as readRequestBody leaves it).
 */
export function readRequestBytes(req: FastifyRequest, payload: Readable, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > maxBytes) return Promise.reject(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const stop = (err: unknown) => {
      payload.removeListener('data', onData);
      payload.pause();
      cleanup();
      reject(err);
    };
    const onData = (chunk: Buffer | string) => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      received += bytes.length;
      if (received > maxBytes) return stop(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
      req.chargeBodyBytes?.(bytes.length);
      chunks.push(bytes);
    };
    const cleanup = finished(payload, { writable: false }, (err) => {
      cleanup();
      payload.removeListener('data', onData);
      if (err) return reject(asReadError(err));
      if (!Number.isNaN(declared) && received !== declared) return reject(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
      resolve(Buffer.concat(chunks, received));
    });
    payload.on('data', onData);
  });
}

/** A body read whole, as text (UTF-8, malformed sequences replaced), under readRequestBody's rules. */
export async function readRequestText(req: FastifyRequest, payload: Readable, maxBytes: number): Promise<string> {
  return (await readRequestBytes(req, payload, maxBytes)).toString('utf8');
}

/** Errors the stream itself raised (a client abort) are the client's: 400, as Fastify's own reader marks them. */
function asReadError(err: unknown): unknown {
  const ours = isGatewayError(err) || err instanceof errorCodes.FST_ERR_CTP_BODY_TOO_LARGE;
  if (!ours && typeof err === 'object' && err !== null && typeof (err as { statusCode?: unknown }).statusCode !== 'number') {
    (err as { statusCode: number }).statusCode = 400;
  }
  return err;
}
