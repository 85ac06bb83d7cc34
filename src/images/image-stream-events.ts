/**
 * The Images API stream's wire format: Server-Sent Events named after their
 * `type`, one JSON object per `data:` line. The field values are kept inside the enums OpenAI's API
 * reference and SDKs declare for events, so strict clients parse every event.
 */

/** Comment line sent while waiting for the first event, so idle timeouts on the way do not fire. */
export const SSE_KEEPALIVE = ': keep-alive\n\n';

/** The enums OpenAI's API reference gives for stream event fields; anything else is reported as the fallback. */
const EVENT_FIELD_VALUES = {
  size: ['1024x1024', '1024x1536', '1536x1024', 'auto'],
  quality: ['low', 'medium', 'high', 'auto'],
  background: ['transparent', 'opaque', 'auto'],
  output_format: ['png', 'webp', 'jpeg'],
} as const satisfies Record<string, readonly string[]>;

const FALLBACK = { size: 'auto', quality: 'auto', background: 'auto', output_format: 'png' } as const;

type EventField = keyof typeof EVENT_FIELD_VALUES;

/** What the request asked for, used where the upstream did not echo a usable value. */
export interface ImageEventDefaults {
  size: string | null;
  quality: string | null;
  background: string | null;
  outputFormat: string | null;
}

/** What the upstream body said about the image (echoes) and its usage. */
export interface ImageEventFacts {
  size: string | null;
  quality: string | null;
  background: string | null;
  outputFormat: string | null;
  usage: { inputTokens: number | null; outputTokens: number | null; totalTokens: number | null } | null;
}

/** The opening of an event whose `b64_json` follows in pieces: `event: …`, then `data: {"type":…,"b64_json":"`. */
export function buildEventHead(type: string): string {
  return `event: ${type}\ndata: {"type":${JSON.stringify(type)},"b64_json":"`;
}

/**
 * The rest of a completed event after its `b64_json` text: the closing quote, `created_at`, the
 * echoed options (each within its enum) and `usage` with every field OpenAI's API reference requires.
 */
export function buildEventTrailer(input: {
  facts: ImageEventFacts;
  details: { textTokens: number | null; imageTokens: number | null } | null;
  defaults: ImageEventDefaults;
  createdAt: number;
}): string {
  const { facts, defaults } = input;
  const fields = {
    created_at: input.createdAt,
    size: pick('size', facts.size, defaults.size),
    quality: pick('quality', facts.quality, defaults.quality),
    background: pick('background', facts.background, defaults.background),
    output_format: pick('output_format', facts.outputFormat, defaults.outputFormat),
    usage: buildEventUsage(facts.usage, input.details),
  };
  return `",${JSON.stringify(fields).slice(1)}\n\n`;
}

/** A whole completed event from an image already in memory (a fanned-out part). */
export function buildCompletedEvent(type: string, b64Json: string, trailer: Parameters<typeof buildEventTrailer>[0]): string {
  return buildEventHead(type) + JSON.stringify(b64Json).slice(1, -1) + buildEventTrailer(trailer);
}

/** A `*.partial_image` event: the partial's base64, its 0-based index, and the echoes within the enums. */
export function buildPartialEvent(
  type: string,
  partial: { b64: string; index: number; echoes: Omit<ImageEventFacts, 'usage'> },
  defaults: ImageEventDefaults,
  createdAt: number,
): string {
  const data = {
    type,
    b64_json: partial.b64,
    created_at: createdAt,
    size: pick('size', partial.echoes.size, defaults.size),
    quality: pick('quality', partial.echoes.quality, defaults.quality),
    background: pick('background', partial.echoes.background, defaults.background),
    output_format: pick('output_format', partial.echoes.outputFormat, defaults.outputFormat),
    partial_image_index: partial.index,
  };
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** `event: error` with an OpenAI error object: the SDKs throw an APIError from it. */
export function buildErrorEvent(error: { message: string; type: string; param: string | null; code: string | null }): string {
  return `event: error\ndata: ${JSON.stringify({ error })}\n\n`;
}

function pick(field: EventField, echoed: string | null, requested: string | null): string {
  const allowed: readonly string[] = EVENT_FIELD_VALUES[field];
  if (echoed !== null && allowed.includes(echoed)) return echoed;
  if (requested !== null && allowed.includes(requested)) return requested;
  return FALLBACK[field];
}

/** The stream event's `usage` as OpenAI's API reference gives it: totals and `input_tokens_details`; zeros where the upstream said nothing. */
function buildEventUsage(usage: ImageEventFacts['usage'], details: { textTokens: number | null; imageTokens: number | null } | null) {
  const input = usage?.inputTokens ?? 0;
  const output = usage?.outputTokens ?? 0;
  return {
    total_tokens: usage?.totalTokens ?? input + output,
    input_tokens: input,
    output_tokens: output,
    input_tokens_details: { text_tokens: details?.textTokens ?? 0, image_tokens: details?.imageTokens ?? 0 },
  };
}
