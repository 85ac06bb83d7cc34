import type { ImageEndpoint } from '../images/image-request.js';

/** What the streaming response tap learned about an upstream JSON body without holding it. */
export interface ResponseMetrics {
  /** Bytes of body seen. */
  bodyBytes: number;
  /** Length of the top-level `data` array, when present. */
  imageCount: number | null;
  /** Decoded bytes of all `data[].b64_json` values (floor(len*3/4) - padding). */
  imageBytes: number;
  /** `imageInputTokens`: `usage.input_tokens_details.image_tokens` (absent or null: not reported; estimated costs then count all input as text). */
  usage: { inputTokens: number | null; outputTokens: number | null; totalTokens: number | null; imageInputTokens?: number | null } | null;
  /** Echoed by the upstream (what it really produced). */
  size: string | null;
  quality: string | null;
  outputFormat: string | null;
  background: string | null;
}

/**
 * One request-log line (schema_version 1 of the original, same names, plus `ts`, `model`, `event`
 * and timings). By construction no field can hold a prompt, an image, an image URL, a token or a key
 * secret: every field is a number, a boolean, an id, a hash or a short enum-like string.
 */
export interface ImageLogEvent {
  schema_version: 1;
  ts: number;
  event: 'attempt' | 'key_limited' | 'exhausted' | 'client_aborted';
  gateway_mode: 'standalone';
  request_id: string;
  /** The client's address: the socket peer, or what a trusted proxy (TRUSTED_PROXIES) passed in X-Forwarded-For. */
  client_ip: string | null;
  key_id: string;
  key_name: string;
  account_name: string | null;
  endpoint: ImageEndpoint;
  /** The upstream model the request was sent with. */
  model: string;
  /** The model name the client sent (before the model alias table); null when it sent none. */
  requested_model: string | null;
  prompt_hash: string;
  size: string | null;
  quality: string | null;
  n: number;
  /** For a request whose `n` images were fanned out as n upstream requests: which one (0-based); else null. */
  part: number | null;
  /** Comma-separated names of fields accepted but not honoured (never their values); null when none. */
  ignored_params: string | null;
  /** Comma-separated names of fields whose legacy value was mapped; null when none. */
  mapped_params: string | null;
  /** True for a `stream: true` request (answered with stream events). */
  stream: boolean;
  /** Partial-image events sent (streams only; null otherwise). */
  partial_events: number | null;
  /** Which upstream endpoint served it: the images endpoint, or the Responses API's image tool. */
  upstream_path: 'images' | 'responses';
  input_image_count: number;
  input_data_image_count: number;
  upstream_status: number;
  duration_ms: number;
  /** ms this request (or this part of a fanned-out one) waited for an account slot with every eligible account at its cap; 0 when it did not wait. */
  queue_wait_ms: number;
  upstream_ttfb_ms: number | null;
  failover_count: number;
  error_class: string | null;
  response_image_count: number | null;
  response_image_bytes: number | null;
  usage_tokens: number | null;
  input_tokens: number | null;
  output_tokens: number | null;
  usage_missing: boolean;
}
