import type { ImageLogEvent } from '../../src/observe/image-log-event.js';

/** A request-log line with harmless defaults (a successful single-image attempt), overridden by `fields`. */
export function makeLogEvent(fields: Partial<ImageLogEvent> = {}): ImageLogEvent {
  return {
    schema_version: 1,
    ts: 0,
    event: 'attempt',
    gateway_mode: 'standalone',
    request_id: 'req_1',
    client_ip: '127.0.0.1',
    key_id: 'key_1',
    key_name: 'alpha',
    account_name: 'acct-a',
    endpoint: 'generations',
    model: 'gpt-image-1',
    prompt_hash: 'h',
    size: null,
    quality: null,
    n: 1,
    input_image_count: 0,
    input_data_image_count: 0,
    upstream_status: 200,
    duration_ms: 100,
    upstream_ttfb_ms: 50,
    failover_count: 0,
    error_class: null,
    response_image_count: 1,
    response_image_bytes: 10,
    usage_tokens: 5,
    input_tokens: 2,
    output_tokens: 3,
    usage_missing: false,
    ...fields,
  };
}
