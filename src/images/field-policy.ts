/**
 * The one table that says what the gateway does with every request field that OpenAI's spec or the
 * newest `openai` SDK defines, on each of the three request forms. The validator, the docs table and
 * the field-policy tests are all derived from it (lenient at the edge, exact inside: no room past the parser re-checks a client field).
 */

/** The three ways a client can send an image request. */
export type RequestForm = 'generations' | 'editsJson' | 'editsMultipart';
export const REQUEST_FORMS = ['generations', 'editsJson', 'editsMultipart'] as const satisfies readonly RequestForm[];

/**
 * What happens to a field on one form:
 * - `forward`: validated and sent upstream as given;
 * - `map`: validated and sent upstream, legacy values first replaced by `values[old]`;
 * - `alias`: `model` — replaced by the upstream model the model alias table names;
 * - `answer`: honoured by the gateway itself (never sent upstream);
 * - `fanout`: `n` — served by `n` upstream calls (or passed through, by the `n_mode` setting);
 * - `drop`: accepted (type-checked only), not sent, and named in `x-gateway-ignored-params`;
 * - `absent`: not part of this form: an `unknown_field` 400, as for names no spec defines.
 */
export type FieldRule =
  | { readonly action: 'forward' | 'alias' | 'answer' | 'fanout' | 'drop' | 'absent' }
  | { readonly action: 'map'; readonly values: Readonly<Record<string, string>> };

/** The shape a field's value must have (null always means absent, except for required fields). */
export type FieldValue =
  | { readonly kind: 'prompt' }
  | { readonly kind: 'model' }
  | { readonly kind: 'size' }
  | { readonly kind: 'string' }
  | { readonly kind: 'enum'; readonly values: readonly string[] }
  | { readonly kind: 'integer'; readonly min: number; readonly max: number }
  | { readonly kind: 'boolean' }
  | { readonly kind: 'object' }
  | { readonly kind: 'imageList' }
  | { readonly kind: 'imageRef' }
  | { readonly kind: 'file' };

/** One row of the policy: the value shape and the rule per form. */
export interface FieldPolicy {
  readonly value: FieldValue;
  readonly forms: Readonly<Record<RequestForm, FieldRule>>;
}

const FORWARD = { action: 'forward' } as const;
const ANSWER = { action: 'answer' } as const;
const DROP = { action: 'drop' } as const;
const ABSENT = { action: 'absent' } as const;
const map = (values: Record<string, string>) => ({ action: 'map', values }) as const;
const everywhere = (rule: FieldRule) => ({ generations: rule, editsJson: rule, editsMultipart: rule }) as const;
const enumOf = (...values: string[]) => ({ kind: 'enum', values }) as const;
const integer = (min: number, max: number) => ({ kind: 'integer', min, max }) as const;

/** dall-e square sizes have no gpt-image-2 equivalent; the nearest supported size of the same aspect is 1024x1024. */
export const LEGACY_SIZE_MAP = { '256x256': '1024x1024', '512x512': '1024x1024' } as const;
/** dall-e and newer-model quality names, mapped onto what gpt-image-2 accepts. */
export const LEGACY_QUALITY_MAP = { standard: 'auto', hd: 'high', xhigh: 'high', max: 'high' } as const;
/** Formats the Codex upstream cannot produce (GIF, SVG previews) are served as PNG. */
export const LEGACY_FORMAT_MAP = { gif: 'png', svg: 'png' } as const;

/** Most images an edit may carry (OpenAI's limit for GPT image models). */
export const MAX_INPUT_IMAGES_LIMIT = 16;
/** Most images one request may ask for (OpenAI: `n` 1..10). */
export const MAX_N = 10;

/**
 * Every field, in the order the validator checks them (first failure wins). The rows are the
 * contract: `test/unit/images/field-policy.test.ts` runs each row on each form and checks the body
 * the upstream would receive.
 */
export const FIELD_POLICY = {
  model: { value: { kind: 'model' }, forms: everywhere({ action: 'alias' }) },
  prompt: { value: { kind: 'prompt' }, forms: everywhere(FORWARD) },
  n: { value: integer(1, MAX_N), forms: everywhere({ action: 'fanout' }) },
  size: { value: { kind: 'size' }, forms: everywhere(map(LEGACY_SIZE_MAP)) },
  quality: { value: enumOf('auto', 'low', 'medium', 'high'), forms: everywhere(map(LEGACY_QUALITY_MAP)) },
  background: { value: enumOf('auto', 'transparent', 'opaque'), forms: everywhere(FORWARD) },
  output_format: { value: enumOf('png', 'jpeg', 'webp'), forms: everywhere(map(LEGACY_FORMAT_MAP)) },
  output_compression: { value: integer(0, 100), forms: everywhere(FORWARD) },
  // Not in OpenAI's multipart schema, but the JSON forms have it and the Codex upstream honours it.
  moderation: { value: enumOf('auto', 'low'), forms: everywhere(FORWARD) },
  // An edit-only field; the AI SDK's provider options can put it on a generation too.
  input_fidelity: { value: enumOf('low', 'high'), forms: { generations: DROP, editsJson: FORWARD, editsMultipart: FORWARD } },
  response_format: { value: enumOf('b64_json', 'url'), forms: everywhere(ANSWER) },
  stream: { value: { kind: 'boolean' }, forms: everywhere(ANSWER) },
  // Partial images exist only in a stream: without `stream: true` the value is dropped (and named).
  partial_images: { value: integer(0, 3), forms: everywhere(ANSWER) },
  style: { value: { kind: 'string' }, forms: everywhere(DROP) },
  user: { value: { kind: 'string' }, forms: everywhere(DROP) },
  safety_identifier: { value: { kind: 'string' }, forms: everywhere(DROP) },
  complexity: { value: { kind: 'string' }, forms: everywhere(DROP) },
  frame_count: { value: integer(0, 1_000_000), forms: everywhere(DROP) },
  frame_duration_ms: { value: integer(0, 1_000_000_000), forms: everywhere(DROP) },
  // An object in JSON; `svg[model]`, `svg[reasoning][effort]` text parts in multipart.
  svg: { value: { kind: 'object' }, forms: everywhere(DROP) },
  images: { value: { kind: 'imageList' }, forms: { generations: ABSENT, editsJson: FORWARD, editsMultipart: ABSENT } },
  image: { value: { kind: 'file' }, forms: { generations: ABSENT, editsJson: ABSENT, editsMultipart: FORWARD } },
  mask: { value: { kind: 'imageRef' }, forms: { generations: ABSENT, editsJson: FORWARD, editsMultipart: FORWARD } },
  markup: { value: { kind: 'file' }, forms: { generations: ABSENT, editsJson: ABSENT, editsMultipart: DROP } },
} as const satisfies Record<string, FieldPolicy>;

/** A field named in the policy. */
export type PolicyField = keyof typeof FIELD_POLICY;

/** Every policy field, in check order. */
export const POLICY_FIELDS = Object.keys(FIELD_POLICY) as PolicyField[];

/** True when `name` is a row of the policy (own property: `__proto__` and friends are not). */
export const isPolicyField = (name: string): name is PolicyField => Object.hasOwn(FIELD_POLICY, name);

/** The rule for `name` on `form`; names outside the policy are `absent` (unknown). */
export function ruleFor(name: string, form: RequestForm): FieldRule {
  return isPolicyField(name) ? FIELD_POLICY[name].forms[form] : ABSENT;
}

/**
 * How strictly the edge reads requests (setting `field_policy`):
 * - `lenient` (default): the table above;
 * - `strict`: a field the gateway would drop, or a value it would map, is a 400 instead.
 */
export type FieldPolicyMode = 'lenient' | 'strict';
export const FIELD_POLICY_MODES = ['lenient', 'strict'] as const satisfies readonly FieldPolicyMode[];

/**
 * How `n > 1` is served (setting `n_mode`):
 * - `fanout` (default): `n` upstream calls of one image each, in parallel (the Codex backend makes one
 *   image per call);
 * - `passthrough`: one upstream call carrying `n`, for an upstream that honours it.
 */
export type NMode = 'fanout' | 'passthrough';
export const N_MODES = ['fanout', 'passthrough'] as const satisfies readonly NMode[];
