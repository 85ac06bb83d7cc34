/**
 * The request body the fake Codex upstream accepts on `POST /responses`, and how
 * it is recorded: never the prompt text or image data (prompt → sha256, images → kind + mime + bytes).
 * Each violation yields the answer the real backend gives: `stream: true`, `store: false` and
 * `instructions` are mandatory for ChatGPT accounts; `input` is a list; `max_output_tokens` and the
 * tool's `n` are refused; a forced `tool_choice` needs the tool in `tools`.
 */
import { detail, isFailure, parseJsonObjectBody, sha256, summarizeImage, type RecordedBody, type RecordedImage, type WireFailure } from './wire-checks.js';

/** The hosted tool the fake generates images with. */
export const IMAGE_TOOL_TYPE = 'image_generation';

const openAiError = (message: string, param: string | null, code: string | null): WireFailure => ({
  status: 400,
  body: { error: { message, type: 'invalid_request_error', param, code } },
});

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What the user message(s) of `input` hold: the prompt parts and the `input_image` parts. */
interface InputSummary {
  texts: string[];
  images: RecordedImage[];
}

/** Reads the `input_text` and `input_image` parts of the user messages; fails on a malformed image part. */
function summarizeInput(input: unknown[]): InputSummary | WireFailure {
  const out: InputSummary = { texts: [], images: [] };
  for (const [i, item] of input.entries()) {
    if (!isObject(item)) return detail(`input[${i}]: expected object`);
    if (item.role !== 'user') continue;
    const parts = typeof item.content === 'string' ? [{ type: 'input_text', text: item.content }] : item.content;
    if (!Array.isArray(parts)) return detail(`input[${i}].content: expected a string or a list`);
    for (const [j, part] of parts.entries()) {
      const summary = summarizePart(part, `input[${i}].content[${j}]`);
      if (summary === null) continue;
      if (typeof summary === 'string') out.texts.push(summary);
      else if (isFailure(summary)) return summary;
      else out.images.push(summary);
    }
  }
  return out;
}

/** An `input_text` part → its text; an `input_image` part → its summary; anything else → null. */
function summarizePart(part: unknown, param: string): string | RecordedImage | WireFailure | null {
  if (!isObject(part)) return detail(`${param}: expected object`);
  if (part.type === 'input_text') return typeof part.text === 'string' ? part.text : detail(`${param}.text: field required`);
  if (part.type === 'input_image') return summarizeImage(part, param);
  return null;
}

/** Checks the `tools` list and the forced `tool_choice`; returns the image tool's index (-1: none) or a failure. */
function checkTools(tools: unknown, toolChoice: unknown): number | WireFailure {
  if (tools !== undefined && !Array.isArray(tools)) return detail('tools: expected a list');
  const list = (tools ?? []) as unknown[];
  const at = list.findIndex((t) => isObject(t) && t.type === IMAGE_TOOL_TYPE);
  const tool = list[at];
  if (isObject(tool) && tool.n !== undefined) {
    return openAiError(`Unknown parameter: 'tools[${at}].n'.`, `tools[${at}].n`, 'unknown_parameter');
  }
  const partials = isObject(tool) ? tool.partial_images : undefined;
  if (partials !== undefined && (!Number.isInteger(partials) || (partials as number) < 0 || (partials as number) > 3)) {
    return openAiError(`Invalid 'tools[${at}].partial_images': expected an integer from 0 to 3.`, `tools[${at}].partial_images`, 'invalid_value');
  }
  if (isObject(toolChoice) && toolChoice.type === IMAGE_TOOL_TYPE && at < 0) {
    return openAiError(`Tool choice '${IMAGE_TOOL_TYPE}' not found in 'tools' parameter.`, 'tool_choice', null);
  }
  return at;
}

/** The first violation of the top-level fields, if any. */
function checkTopLevel(json: Record<string, unknown>): WireFailure | null {
  if (typeof json.model !== 'string' || json.model === '') return detail('model: field required');
  if (typeof json.instructions !== 'string') return detail('Instructions are required');
  if (json.stream !== true) return detail('Stream must be set to true');
  if (json.store !== false) return detail('Store must be set to false');
  if (json.max_output_tokens !== undefined) return detail('Unsupported parameter: max_output_tokens');
  if (!Array.isArray(json.input)) return detail('Input must be a list');
  return null;
}

/** The recorded summary of a `/responses` body (the image tool is located leniently, for the record only). */
function recordResponsesBody(json: Record<string, unknown>, input: InputSummary | null): RecordedBody {
  const { input: _input, tools, ...fields } = json;
  const list = Array.isArray(tools) ? tools : [];
  const found = list.find((t): t is Record<string, unknown> => isObject(t) && t.type === IMAGE_TOOL_TYPE);
  const { input_image_mask: mask, ...tool } = found ?? {};
  const maskSummary = mask === undefined ? null : summarizeImage(mask, 'input_image_mask');
  return {
    fields,
    promptSha256: input && input.texts.length > 0 ? sha256(input.texts.join('\n')) : null,
    images: input ? input.images : null,
    mask: maskSummary && !isFailure(maskSummary) ? maskSummary : null,
    tool: found ? tool : null,
    toolTypes: list.map((t) => (isObject(t) && typeof t.type === 'string' ? t.type : '(invalid)')),
  };
}

/**
 * Parses and checks a `/responses` body. Returns the recorded summary (when the body is a JSON
 * object) and the first violation, if any.
 */
export function checkResponsesBody(contentType: string | undefined, raw: Buffer): { body: RecordedBody | null; failure: WireFailure | null } {
  const parsed = parseJsonObjectBody(contentType, raw);
  if ('failure' in parsed) return { body: null, failure: parsed.failure };
  const { json } = parsed;
  const input = Array.isArray(json.input) ? summarizeInput(json.input) : null;
  const inputSummary = input && !('status' in input) ? input : null;
  const tools = checkTools(json.tools, json.tool_choice);
  const failure = checkTopLevel(json) ?? (input && 'status' in input ? input : null) ?? (typeof tools === 'number' ? null : tools);
  return { body: recordResponsesBody(json, inputSummary), failure };
}
