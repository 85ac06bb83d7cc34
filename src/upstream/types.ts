import type { Readable } from 'node:stream';
import type { ImageEndpoint, UpstreamBody } from '../images/image-request.js';

/** Where a request goes upstream: an images endpoint, or the Responses API with the image_generation tool. */
export type UpstreamEndpoint = ImageEndpoint | 'responses';

/** One request to one account. */
export interface UpstreamRequest {
  endpoint: UpstreamEndpoint;
  body: UpstreamBody;
  /** Access token and account id for this attempt. */
  accessToken: string;
  chatgptAccountId: string | null;
  fedramp: boolean;
  proxyUrl: string | null;
  /** Client headers that may pass through (trace context and the like); filtered by the allowlist. */
  clientHeaders: Record<string, string | string[] | undefined>;
  codexClientVersion: string;
}

/** An upstream answer whose body has not been read yet (so a 2xx can be piped to the client). */
export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
  /** Milliseconds from send to response headers. */
  ttfbMs: number;
}

/** Sends one request to one account. Never retries: failover belongs to the dispatch loop. */
export interface UpstreamClient {
  send(req: UpstreamRequest, signal: AbortSignal): Promise<UpstreamResponse>;
  close(): Promise<void>;
}
