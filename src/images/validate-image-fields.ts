import { GatewayError } from '../errors/codes.js';
import { type ImageOptions, type ImageRequest, UPSTREAM_OPTIONS } from './image-request.js';
import { SIZE_RULE_TEXT, isValidImageSize } from './image-options.js';
import {
  FIELD_POLICY,
  POLICY_FIELDS,
  ruleFor,
  type FieldPolicyMode,
  type FieldRule,
  type FieldValue,
  type PolicyField,
  type RequestForm,
} from './field-policy.js';
import type { ResolvedModel } from './model-aliases.js';

/** Per-deployment request rules (from config and the snapshot's settings). */
export interface ImageLimits {
  /** Resolves `model` (undefined when absent) to the upstream model, or throws a GatewayError for `model`. */
  readonly resolveModel: (requested: string | undefined) => ResolvedModel;
  /** Most input images on one edit. */
  readonly maxInputImages: number;
  /** Longest prompt in characters (Unicode code points); normally MAX_PROMPT_CHARS. */
  readonly maxPromptChars: number;
  /** `strict` turns every drop and every mapped value of the policy into a 400. */
  readonly fieldPolicy: FieldPolicyMode;
}

/** Every validated scalar field of a request: an ImageRequest without its images. */
export type ValidatedFields = Pick<
  ImageRequest,
  'model' | 'requestedModel' | 'prompt' | 'n' | 'nGiven' | 'options' | 'responseFormat' | 'stream' | 'partialImages' | 'ignoredParams' | 'mappedParams'
>;

/** What `validateImageFields` needs; `fields` is already typed (JSON values, or coerced multipart text). */
export interface FieldValidationInput {
  readonly fields: Readonly<Record<string, unknown>>;
  readonly form: RequestForm;
  readonly limits: ImageLimits;
  /** Raw JSON text of a number field, so `2.0` and `1e0` can be told from `2` and `1`. */
  readonly numberLiteral?: (name: string) => string | undefined;
}

/** Longest field name quoted back in an error message (names are client input). */
const MAX_QUOTED_NAME_CHARS = 64;
const INTEGER_LITERAL = /^\d+$/;

/** Value kinds the callers check themselves (they differ by form: JSON references or uploaded files). */
const IMAGE_KINDS: ReadonlySet<FieldValue['kind']> = new Set(['imageList', 'imageRef', 'file']);

// Every option sent upstream is a field the policy table has a rule for.
UPSTREAM_OPTIONS satisfies readonly PolicyField[];

const invalid = (param: string, message: string) => new GatewayError('invalid_request', message, param);
const unsupported = (param: string) => new GatewayError('unsupported_value', `${param} has unsupported value`, param);

/**
 * Validates the scalar fields of an image request by FIELD_POLICY, shared by the JSON and multipart
 * parsers so each rule exists once. Order (first failure wins): fields the form does not have
 * (sorted) → the policy's rows in table order. `null` means absent. Images are the caller's job.
 * @throws GatewayError with `param` naming the field at fault.
 */
export function validateImageFields(input: FieldValidationInput): ValidatedFields {
  const { fields, form, limits } = input;
  rejectUnknownFields(fields, form);
  const parsed = new Map<PolicyField, unknown>();
  const ignoredParams: string[] = [];
  const mappedParams: string[] = [];
  for (const name of POLICY_FIELDS) {
    const { value: shape } = FIELD_POLICY[name];
    if (IMAGE_KINDS.has(shape.kind)) continue;
    const raw = Object.hasOwn(fields, name) && fields[name] !== null ? fields[name] : undefined;
    const rule: FieldRule = FIELD_POLICY[name].forms[form];
    const value = parseValue(name, shape, raw, { rule, literal: input.numberLiteral?.(name), maxPromptChars: limits.maxPromptChars });
    if (value === undefined && name !== 'model') continue;
    if (rule.action === 'drop') {
      if (limits.fieldPolicy === 'strict') throw buildUnsupportedFieldError(name);
      ignoredParams.push(name);
      continue;
    }
    if (rule.action === 'map' && typeof value === 'string' && Object.hasOwn(rule.values, value)) {
      if (limits.fieldPolicy === 'strict') throw unsupported(name);
      mappedParams.push(name);
      parsed.set(name, rule.values[value]);
      continue;
    }
    parsed.set(name, value);
  }
  const model = limits.resolveModel(parsed.get('model') as string | undefined);
  const n = parsed.get('n') as number | undefined;
  const stream = parsed.get('stream') === true;
  const requested = (parsed.get('partial_images') as number | undefined) ?? 0;
  // Partial images belong to a stream of one image (with n > 1 no event says which image a partial
  // belongs to); otherwise they are not honoured, and said so.
  const partialImages = stream && (n ?? 1) === 1 ? requested : 0;
  if (requested > 0 && partialImages === 0) ignoredParams.push('partial_images');
  // A stream carries b64_json only (as OpenAI's does): `url` cannot be honoured there.
  if (stream && parsed.get('response_format') === 'url') ignoredParams.push('response_format');
  return {
    model: model.upstream,
    requestedModel: model.requested,
    prompt: parsed.get('prompt') as string,
    n: n ?? 1,
    nGiven: n !== undefined,
    options: buildOptions(parsed),
    responseFormat: stream ? 'b64_json' : ((parsed.get('response_format') as ImageRequest['responseFormat'] | undefined) ?? 'b64_json'),
    stream,
    partialImages,
    // Sorted: the header and the log line name them the same way whatever the client's order.
    ignoredParams: ignoredParams.sort(),
    mappedParams: mappedParams.sort(),
  };
}

function rejectUnknownFields(fields: Readonly<Record<string, unknown>>, form: RequestForm): void {
  const unknown = Object.keys(fields)
    .filter((key) => ruleFor(key, form).action === 'absent')
    .sort()[0];
  if (unknown !== undefined) throw buildUnknownFieldError(unknown);
}

/** Cuts a client-sent name to 64 characters before it is quoted back. */
const quoteName = (name: string): string => (name.length > MAX_QUOTED_NAME_CHARS ? `${name.slice(0, MAX_QUOTED_NAME_CHARS)}…` : name);

/** The error for a field the request form does not accept: ``unknown field `name` ``. */
export function buildUnknownFieldError(name: string): GatewayError {
  const quoted = quoteName(name);
  return new GatewayError('unknown_field', `unknown field \`${quoted}\``, quoted);
}

/** Under the strict field policy: a field the gateway cannot honour, refused rather than dropped. */
export function buildUnsupportedFieldError(name: string): GatewayError {
  const quoted = quoteName(name);
  return new GatewayError('unsupported_field', `\`${quoted}\` is not supported by this gateway (strict field policy)`, quoted);
}

interface ParseContext {
  /** The field's rule on this form: a `map` rule's keys are accepted values too. */
  rule: FieldRule;
  literal: string | undefined;
  maxPromptChars: number;
}

/** Checks one present value against its shape; enum and size values may also be keys of the field's map. */
function parseValue(name: string, shape: FieldValue, value: unknown, ctx: ParseContext): unknown {
  if (shape.kind === 'prompt') return parsePrompt(value, ctx.maxPromptChars);
  if (value === undefined) return undefined;
  switch (shape.kind) {
    case 'model':
    case 'string':
      return parseString(name, value);
    case 'size':
      return parseSize(value, ctx.rule);
    case 'enum':
      return parseEnum(name, shape.values, value, ctx.rule);
    case 'integer':
      return parseInteger(name, value, shape, ctx.literal);
    case 'boolean':
      if (typeof value !== 'boolean') throw invalid(name, `${name} must be a boolean`);
      return value;
    case 'object':
      if (typeof value !== 'object' || Array.isArray(value)) throw invalid(name, `${name} must be an object`);
      return value;
    default:
      return value;
  }
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
 * A non-negative JSON integer in range. `literal` is the raw JSON text when known: JSON.parse turns
 * `2.0` and `1e0` into integers, but the original gateway (a u64 field) rejects them.
 */
function parseInteger(name: string, value: unknown, range: { min: number; max: number }, literal: string | undefined): number {
  const isInteger = typeof value === 'number' && Number.isInteger(value) && value >= 0 && (literal === undefined || INTEGER_LITERAL.test(literal));
  if (!isInteger) throw invalid(name, `${name} must be an integer`);
  if (value < range.min || value > range.max) throw invalid(name, `${name} must be between ${range.min} and ${range.max}`);
  return value;
}

function parseString(name: string, value: unknown): string {
  if (typeof value !== 'string') throw invalid(name, `${name} must be a string`);
  return value;
}

/** A size gpt-image-2 accepts, or a legacy size the policy maps (the caller maps it). */
function parseSize(value: unknown, rule: FieldRule): string {
  const size = parseString('size', value);
  if (isValidImageSize(size) || isMapKey(rule, size)) return size;
  throw new GatewayError('unsupported_value', `size has unsupported value: ${SIZE_RULE_TEXT}`, 'size');
}

function parseEnum(name: string, allowed: readonly string[], value: unknown, rule: FieldRule): string {
  const text = parseString(name, value);
  if (allowed.includes(text) || isMapKey(rule, text)) return text;
  throw unsupported(name);
}

const isMapKey = (rule: FieldRule, value: string): boolean => rule.action === 'map' && Object.hasOwn(rule.values, value);

function buildOptions(parsed: ReadonlyMap<PolicyField, unknown>): ImageOptions {
  const options: Record<string, unknown> = {};
  for (const name of UPSTREAM_OPTIONS) if (parsed.has(name)) options[name] = parsed.get(name);
  return options as ImageOptions;
}
