import { FIELD_LIMITS } from '../config/field-limits.js';
import { GatewayError } from '../errors/codes.js';

/**
 * Model mapping: which upstream model serves the `model` a client asked for. Pure, no I/O: the
 * rows come from the `model_aliases` table (through the snapshot), the strict switch from the
 * `modelAliasesStrict` setting, the served models from config `ALLOWED_MODELS`.
 */

/** One mapping row: `alias` is an exact model name or a prefix pattern ending in `*` (e.g. `gpt-image-*`). */
export interface ModelAlias {
  readonly alias: string;
  readonly upstreamModel: string;
}

/** What model resolution needs (from the snapshot and config). */
export interface ModelRouting {
  /** From the model_aliases table. */
  readonly aliases: readonly ModelAlias[];
  /** Setting modelAliasesStrict: an unknown name is a 400 instead of the default model. */
  readonly strict: boolean;
  /** Config ALLOWED_MODELS: upstream models served under their own name; the first is the default when `model` is absent. */
  readonly servedModels: readonly string[];
}

/** The outcome of resolving one request's `model`. */
export interface ResolvedModel {
  /** The name the client sent, clipped to MODEL_NAME_ECHO_CHARS (fit for a log line); null when it sent none. */
  readonly requested: string | null;
  /** The model sent upstream. */
  readonly upstream: string;
}

/** Longest alias or upstream model name stored (characters, the `*` of a pattern included). */
export const MODEL_NAME_MAX_CHARS = FIELD_LIMITS.modelName.max;

/** At most this many characters of a client's model name are ever echoed (error message, log line). */
export const MODEL_NAME_ECHO_CHARS = 64;

/** Longest list of allowed names a strict 400 spells out before it says "and N more". */
const ALLOWED_NAMES_MESSAGE_CHARS = 400;

/** A stored model name: starts with a letter or digit, then letters, digits, `.`, `_`, `:`, `/`, `-`. */
export const MODEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/;

/** The upstream model every OpenAI image model name maps to by default. */
const DEFAULT_UPSTREAM_MODEL = 'gpt-image-2';

/**
 * The rows a fresh database holds (migration 0003 seeds exactly these; a test checks it) and what
 * "reset to defaults" restores: every OpenAI image model name, and the families' prefixes (dated
 * names like `gpt-image-2-2026-04-21` fall under `gpt-image-*`), all to `gpt-image-2`.
 */
export const DEFAULT_MODEL_ALIASES: readonly ModelAlias[] = [
  'gpt-image-1',
  'gpt-image-1.5',
  'gpt-image-1-mini',
  'chatgpt-image-latest',
  'dall-e-2',
  'dall-e-3',
  'gpt-image-*',
  'chatgpt-image-*',
  'dall-e-*',
].map((alias) => ({ alias, upstreamModel: DEFAULT_UPSTREAM_MODEL }));

/** True when `alias` is a prefix pattern (ends in `*`). */
export const isModelAliasPattern = (alias: string): boolean => alias.endsWith('*');

/**
 * True when `alias` may be stored: at most MODEL_NAME_MAX_CHARS characters, MODEL_NAME_PATTERN, optionally one trailing
 * `*` after at least one character (a bare `*` would make the strict switch meaningless: leave it
 * off instead). The table's CHECK constraint says the same; a test holds them together.
 */
export function isValidModelAlias(alias: string): boolean {
  if (alias.length < FIELD_LIMITS.modelName.min || alias.length > MODEL_NAME_MAX_CHARS) return false;
  return MODEL_NAME_PATTERN.test(isModelAliasPattern(alias) ? alias.slice(0, -1) : alias);
}

/** True when `name` may be stored as an upstream model: at most MODEL_NAME_MAX_CHARS characters of MODEL_NAME_PATTERN. */
export const isValidUpstreamModel = (name: string): boolean => name.length <= MODEL_NAME_MAX_CHARS && MODEL_NAME_PATTERN.test(name);

/** A client's model name as it may be echoed: at most MODEL_NAME_ECHO_CHARS, control characters as `?`. */
export function clipModelName(name: string): string {
  const safe = name.replace(/\p{Cc}/gu, '?');
  return safe.length > MODEL_NAME_ECHO_CHARS ? `${safe.slice(0, MODEL_NAME_ECHO_CHARS)}…` : safe;
}

/**
 * Resolves a request's `model`, in this order: absent (undefined or null) → the first served model;
 * a served model → itself (ALLOWED_MODELS keeps its meaning even where a default alias row has
 * the same name); an exact alias row → its upstream model; the longest matching prefix pattern → its upstream model; anything else
 * → the first served model, or with `strict` a 400. Matching is exact and case-sensitive; a name
 * longer than MODEL_NAME_MAX_CHARS matches nothing.
 * @throws GatewayError('unsupported_value', param `model`) when strict and the name is unknown; the
 * message names the allowed names (patterns as patterns), cut to a bounded length.
 */
export function resolveImageModel(requested: string | null | undefined, routing: ModelRouting): ResolvedModel {
  const [defaultModel] = routing.servedModels;
  if (defaultModel === undefined) throw new RangeError('servedModels must not be empty');
  if (requested === undefined || requested === null) return { requested: null, upstream: defaultModel };
  const upstream = requested.length <= MODEL_NAME_MAX_CHARS ? matchModel(requested, routing) : undefined;
  if (upstream !== undefined) return { requested: clipModelName(requested), upstream };
  if (!routing.strict) return { requested: clipModelName(requested), upstream: defaultModel };
  const message = `model \`${clipModelName(requested)}\` is not supported; use one of: ${formatAllowedNames(routing)}`;
  throw new GatewayError('unsupported_value', message, 'model');
}

/** The upstream model for a known name (served name, exact row, longest pattern), or undefined. */
function matchModel(name: string, routing: ModelRouting): string | undefined {
  if (routing.servedModels.includes(name)) return name;
  const exact = routing.aliases.find((row) => row.alias === name && !isModelAliasPattern(row.alias));
  if (exact) return exact.upstreamModel;
  let best: ModelAlias | undefined;
  for (const row of routing.aliases) {
    if (!isModelAliasPattern(row.alias) || !name.startsWith(row.alias.slice(0, -1))) continue;
    if (best === undefined || row.alias.length > best.alias.length) best = row;
  }
  return best?.upstreamModel;
}

/**
 * The names `/v1/models` lists: the served models, then the exact alias names (patterns are not
 * model ids), each once, in that order.
 */
export function listModelNames(routing: ModelRouting): string[] {
  const exact = routing.aliases.filter((row) => !isModelAliasPattern(row.alias)).map((row) => row.alias);
  return [...new Set([...routing.servedModels, ...exact])];
}

/** Served names, exact aliases, then patterns; cut with "… and N more" past the message budget. */
function formatAllowedNames(routing: ModelRouting): string {
  const patterns = routing.aliases.filter((row) => isModelAliasPattern(row.alias)).map((row) => row.alias);
  const names = [...new Set([...listModelNames(routing), ...patterns])];
  const shown: string[] = [];
  let length = 0;
  for (const name of names) {
    if (length + name.length > ALLOWED_NAMES_MESSAGE_CHARS) break;
    shown.push(name);
    length += name.length + 2;
  }
  const rest = names.length - shown.length;
  return rest > 0 ? `${shown.join(', ')} … and ${rest} more` : shown.join(', ');
}
