import { GatewayError } from '../errors/codes.js';
import type { ImageOptions, ImageRequest } from './image-request.js';
import {
  IMAGE_OPTION_VALUES,
  INTEGER_OPTION_RANGES,
  SIZE_RULE_TEXT,
  isValidImageSize,
  type EnumOptionName,
  type IntegerOptionName,
} from './image-options.js';

/** Per-deployment request limits (from config: ALLOWED_MODELS, MAX_INPUT_IMAGES; prompt cap MAX_PROMPT_CHARS). */
export interface ImageLimits {
  /** Models clients may ask for; the first is the default when `model` is absent. Never empty. */
  readonly allowedModels: readonly string[];
  /** Most input images on one edit. */
  readonly maxInputImages: number;
  /** Longest prompt in characters (Unicode code points); normally MAX_PROMPT_CHARS. */
  readonly maxPromptChars: number;
}

/** Every validated scalar field of a request: an ImageRequest without its images. */
export type ValidatedFields = Pick<ImageRequest, 'model' | 'prompt' | 'n' | 'nGiven' | 'options' | 'responseFormat'>;

/** What `validateImageFields` needs; `fields` is already typed (JSON values, or coerced multipart text). */
export interface FieldValidationInput {
  readonly fields: Readonly<Record<string, unknown>>;
  /** The accepted top-level names for this request form (a REQUEST_FIELDS row). */
  readonly allowedKeys: readonly string[];
  readonly limits: ImageLimits;
  /** Raw JSON text of a number field, so `2.0` and `1e0` can be told from `2` and `1`. */
  readonly numberLiteral?: (name: IntegerOptionName) => string | undefined;
}

/** Longest field name quoted back in an error message (names are client input). */
const MAX_QUOTED_NAME_CHARS = 64;
const INTEGER_LITERAL = /^\d+$/;

const invalid = (param: string, message: string) => new GatewayError('invalid_request', message, param);
const unsupported = (param: string) => new GatewayError('unsupported_value', `${param} has unsupported value`, param);

/**
 * Validates the scalar fields of an image request, shared by the JSON and multipart parsers so each
 * rule exists once. Order (first failure wins): unknown fields (sorted) → model → prompt → n → size
 * → quality → background → output_format → output_compression → moderation → input_fidelity →
 * response_format → user → stream → partial_images. `user` and `partial_images` are checked but
 * never forwarded. Images are the caller's job (they differ by form).
 * @throws GatewayError with `param` naming the field at fault.
 */
export function validateImageFields(input: FieldValidationInput): ValidatedFields {
  const { fields, limits } = input;
  const get = (name: string): unknown => (Object.hasOwn(fields, name) ? fields[name] : undefined);
  const integer = (name: IntegerOptionName) => parseIntegerOption(name, get(name), input.numberLiteral?.(name));
  rejectUnknownFields(fields, input.allowedKeys);
  const model = parseModel(get('model'), limits.allowedModels);
  const prompt = parsePrompt(get('prompt'), limits.maxPromptChars);
  const n = integer('n');
  const size = parseSize(get('size'));
  const quality = parseEnumOption('quality', get('quality'));
  const background = parseEnumOption('background', get('background'));
  const outputFormat = parseEnumOption('output_format', get('output_format'));
  const outputCompression = integer('output_compression');
  const moderation = parseEnumOption('moderation', get('moderation'));
  const inputFidelity = parseEnumOption('input_fidelity', get('input_fidelity'));
  const responseFormat = parseEnumOption('response_format', get('response_format'));
  parseOptionalString('user', get('user'));
  parseStream(get('stream'));
  integer('partial_images');
  const options: ImageOptions = dropUndefined({
    size,
    quality,
    background,
    output_format: outputFormat,
    output_compression: outputCompression,
    moderation,
    input_fidelity: inputFidelity,
  });
  return { model, prompt, n: n ?? 1, nGiven: n !== undefined, options, responseFormat: responseFormat ?? 'b64_json' };
}

function rejectUnknownFields(fields: Readonly<Record<string, unknown>>, allowedKeys: readonly string[]): void {
  const unknown = Object.keys(fields).filter((key) => !allowedKeys.includes(key)).sort()[0];
  if (unknown !== undefined) throw buildUnknownFieldError(unknown);
}

/**
 * The error for a field the request form does not accept: ``unknown field `name` ``. The name is
 * client input, so it is cut to 64 characters before it is quoted back.
 */
export function buildUnknownFieldError(name: string): GatewayError {
  const quoted = name.length > MAX_QUOTED_NAME_CHARS ? `${name.slice(0, MAX_QUOTED_NAME_CHARS)}…` : name;
  return new GatewayError('unknown_field', `unknown field \`${quoted}\``, quoted);
}

function parseModel(value: unknown, allowedModels: readonly string[]): string {
  const [defaultModel] = allowedModels;
  if (defaultModel === undefined) throw new RangeError('allowedModels must not be empty');
  if (value === undefined) return defaultModel;
  if (typeof value !== 'string') throw invalid('model', 'model must be a string');
  if (allowedModels.includes(value)) return value;
  const expected = allowedModels.length === 1 ? defaultModel : `one of: ${allowedModels.join(', ')}`;
  throw new GatewayError('unsupported_value', `model must be ${expected}`, 'model');
}

function parsePrompt(value: unknown, maxChars: number): string {
  if (value === undefined) throw invalid('prompt', 'prompt is required');
  if (typeof value !== 'string') throw invalid('prompt', 'prompt must be a string');
  if (value.trim() === '') throw invalid('prompt', 'prompt is required');
  // UTF-16 length bounds the code point count from above, so only long strings are counted.
  if (value.length > maxChars && [...value].length > maxChars) {
    throw invalid('prompt', `prompt must be at most ${maxChars} characters`);
  }
  return value;
}

/**
 * A non-negative JSON integer in the option's range. `literal` is the raw JSON text when known:
 * JSON.parse turns `2.0` and `1e0` into integers, but the original gateway (a u64 field) rejects them.
 */
function parseIntegerOption(name: IntegerOptionName, value: unknown, literal: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const isInteger =
    typeof value === 'number' && Number.isInteger(value) && value >= 0 && (literal === undefined || INTEGER_LITERAL.test(literal));
  if (!isInteger) throw invalid(name, `${name} must be an integer`);
  const { min, max } = INTEGER_OPTION_RANGES[name];
  if (value < min || value > max) throw invalid(name, `${name} must be between ${min} and ${max}`);
  return value;
}

function parseSize(value: unknown): string | undefined {
  const size = parseOptionalString('size', value);
  if (size === undefined || isValidImageSize(size)) return size;
  throw new GatewayError('unsupported_value', `size has unsupported value: ${SIZE_RULE_TEXT}`, 'size');
}

function parseEnumOption<K extends EnumOptionName>(name: K, value: unknown): (typeof IMAGE_OPTION_VALUES)[K][number] | undefined {
  const text = parseOptionalString(name, value);
  if (text === undefined) return undefined;
  const allowed: readonly string[] = IMAGE_OPTION_VALUES[name];
  if (!allowed.includes(text)) throw unsupported(name);
  return text as (typeof IMAGE_OPTION_VALUES)[K][number];
}

function parseOptionalString(name: string, value: unknown): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  throw invalid(name, `${name} must be a string`);
}

function parseStream(value: unknown): void {
  if (value === undefined || value === false) return;
  if (value === true) throw new GatewayError('stream_not_supported', 'stream is not supported yet', 'stream');
  throw invalid('stream', 'stream must be a boolean');
}

function dropUndefined<T extends object>(record: T): T {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as T;
}
