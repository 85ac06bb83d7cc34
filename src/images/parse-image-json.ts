import secureJson from 'secure-json-parse';
import { GatewayError } from '../errors/codes.js';
import type { ImageEndpoint, ImageInput, ImageRequest } from './image-request.js';
import { FIELD_POLICY, POLICY_FIELDS, type RequestForm } from './field-policy.js';
import { parseImageSource, type ResolveStreamedString } from './parse-image-source.js';
import { scanTopLevelMembers } from './scan-top-level-members.js';
import { validateImageFields, type ImageLimits } from './validate-image-fields.js';

export type { ImageLimits } from './validate-image-fields.js';

/** Fields whose raw number literal matters (`2.0` is not an integer here). */
const INTEGER_FIELDS: readonly string[] = POLICY_FIELDS.filter((name) => FIELD_POLICY[name].value.kind === 'integer');

const FORMS = { generations: 'generations', edits: 'editsJson' } as const satisfies Record<ImageEndpoint, RequestForm>;

/**
 * Parses and validates a JSON image request from the raw body text (the HTTP layer must hand over
 * the text, not a parsed object, so number literals like `2.0` can be seen). Parsing refuses
 * `__proto__` and `constructor.prototype` keys as Fastify's own JSON parser does. Validation order:
 * object → unknown fields → scalar fields (validateImageFields, by FIELD_POLICY) → images → mask
 * (edits only; on generations `images` and `mask` are unknown fields). `null` means absent for every
 * field but the required ones. `resolve` maps the placeholders of a body parsed as it streamed
 * (parseImageJsonStream) back to their images.
 * @throws GatewayError('invalid_json') for unparsable text; other codes per field, `param` = field.
 */
export function parseImageJson(endpoint: ImageEndpoint, text: string, limits: ImageLimits, resolve?: ResolveStreamedString): ImageRequest {
  const body = parseJsonText(text);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GatewayError('invalid_request', 'request body must be a JSON object');
  }
  const fields = body as Record<string, unknown>;
  const needsLiterals = INTEGER_FIELDS.some((name) => typeof fields[name] === 'number');
  const literals = needsLiterals ? scanTopLevelMembers(text, INTEGER_FIELDS) : new Map<string, string>();
  const validated = validateImageFields({
    fields,
    form: FORMS[endpoint],
    limits,
    numberLiteral: (name) => literals.get(name),
  });
  if (endpoint === 'generations') return { endpoint, ...validated, images: [], mask: null };
  const images = parseImageList(fields.images ?? undefined, limits.maxInputImages, resolve);
  const mask = fields.mask !== undefined && fields.mask !== null ? parseImageSource(fields.mask, 'mask', resolve) : null;
  return { endpoint, ...validated, images, mask };
}

function parseJsonText(text: string): unknown {
  try {
    return secureJson.parse(text, null, { protoAction: 'error', constructorAction: 'error' });
  } catch {
    // No `cause`: V8's SyntaxError quotes a slice of the body, which may hold the prompt.
    throw new GatewayError('invalid_json', 'request body must be valid JSON');
  }
}

function parseImageList(value: unknown, maxImages: number, resolve: ResolveStreamedString | undefined): ImageInput[] {
  if (value === undefined) throw new GatewayError('invalid_request', 'images is required', 'images');
  if (!Array.isArray(value)) throw new GatewayError('invalid_request', 'images must be an array', 'images');
  if (value.length < 1 || value.length > maxImages) {
    throw new GatewayError('invalid_request', `images must contain between 1 and ${maxImages} entries`, 'images');
  }
  return value.map((source: unknown, i) => parseImageSource(source, `images[${i}]`, resolve));
}
