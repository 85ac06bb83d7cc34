/**
 * The price table setting: what each upstream model costs, in USD, per image (by quality and size)
 * and/or per 1M tokens (text input, image input, image output). Every cost the gateway shows is an
 * *estimate* from this table, never a bill: the upstream is a ChatGPT account, not a metered API.
 *
 * The table travels, is stored and is shown in one spelling: an array of entries (a model name is a
 * value, never a key, and every key is one lower-case word or a size), so the admin API's
 * snake_case ↔ camelCase renaming leaves it untouched.
 *
 * This file imports nothing: the web console bundles it to check the editor's JSON as it is typed.
 */

/** The qualities a per-image price is given for. */
export const PRICE_QUALITIES = ['low', 'medium', 'high'] as const;
export type PriceQuality = (typeof PRICE_QUALITIES)[number];

/** The sizes a per-image price is given for (the three every GPT image model makes). */
export const PRICE_SIZES = ['1024x1024', '1024x1536', '1536x1024'] as const;
export type PriceSize = (typeof PRICE_SIZES)[number];

/** The token prices of a model: `text` and `image` input, image `output`. */
export const TOKEN_PRICE_KINDS = ['text', 'image', 'output'] as const;
export type TokenPriceKind = (typeof TOKEN_PRICE_KINDS)[number];

/** USD per image, by quality then size. */
export type ImagePrices = Readonly<Record<PriceQuality, Readonly<Record<PriceSize, number>>>>;
/** USD per 1M tokens. */
export type TokenPrices = Readonly<Record<TokenPriceKind, number>>;

/** One model's prices: per image, per token, or both (token prices win when the upstream reports usage). */
export interface ModelPrice {
  /** The upstream model name (after model mapping), as requests are sent and usage is recorded. */
  readonly model: string;
  readonly image?: ImagePrices;
  readonly tokens?: TokenPrices;
}

/** The setting: at most one entry per model. */
export type PriceTable = readonly ModelPrice[];

/** Highest price accepted, in USD (per image, or per 1M tokens): keeps every estimate a safe integer of micro-USD. */
export const MAX_PRICE_USD = 1_000;

/** Micro-USD in one USD: costs are counted in integer micro-USD. */
export const MICROS_PER_USD = 1_000_000;

/** Per-image prices of one quality: the square size, and the portrait and landscape ones (which cost the same). */
const bySize = (square: number, oblong: number): Readonly<Record<PriceSize, number>> => ({ '1024x1024': square, '1024x1536': oblong, '1536x1024': oblong });

/**
 * Public prices as secondary sources published them (estimates; verify before billing anyone).
 * gpt-image-1-mini's output price is derived ($8 per 1M) and its per-image prices from it and the
 * output tokens per image; gpt-image-2 is priced by tokens only.
 */
export const DEFAULT_PRICE_TABLE: PriceTable = [
  {
    model: 'gpt-image-1',
    image: { low: bySize(0.011, 0.016), medium: bySize(0.042, 0.063), high: bySize(0.167, 0.25) },
    tokens: { text: 5, image: 10, output: 40 },
  },
  { model: 'gpt-image-1-mini', image: { low: bySize(0.002, 0.003), medium: bySize(0.008, 0.013), high: bySize(0.033, 0.05) } },
  {
    model: 'gpt-image-1.5',
    image: { low: bySize(0.009, 0.013), medium: bySize(0.034, 0.05), high: bySize(0.133, 0.2) },
    tokens: { text: 5, image: 8, output: 32 },
  },
  { model: 'gpt-image-2', tokens: { text: 5, image: 8, output: 30 } },
];

/** What the caller bounds: the number of models, and which model names are acceptable. */
export interface PriceTableRules {
  maxModels: number;
  isModelName: (name: string) => boolean;
}

/** A checked table, or the first problem: the path of the bad value (`price_table[1].tokens.text`) and a message that starts with it. */
export type PriceTableCheck = { ok: true; value: PriceTable } | { ok: false; path: string; message: string };

/** A problem found while checking, thrown inside this file only. */
class PriceTableProblem extends Error {
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`${path} ${detail}`);
  }
}

/**
 * Checks an untrusted price table strictly: a list of at most `maxModels` entries, each
 * `{model, image?, tokens?}` with at least one of the two; `image` has every quality × size, `tokens`
 * every kind; every price a number of USD from 0 to MAX_PRICE_USD; no unknown field, no model twice.
 * `param` (the setting's wire name) starts every path.
 */
export function parsePriceTable(value: unknown, param: string, rules: PriceTableRules): PriceTableCheck {
  try {
    if (!Array.isArray(value) || value.length > rules.maxModels) throw new PriceTableProblem(param, `must be a list of at most ${rules.maxModels} models`);
    const seen = new Set<string>();
    const table = value.map((entry, i) => {
      const parsed = parseModelPrice(entry, `${param}[${i}]`, rules);
      if (seen.has(parsed.model)) throw new PriceTableProblem(`${param}[${i}].model`, `names ${parsed.model} a second time`);
      seen.add(parsed.model);
      return parsed;
    });
    return { ok: true, value: table };
  } catch (err) {
    if (err instanceof PriceTableProblem) return { ok: false, path: err.path, message: err.message };
    throw err;
  }
}

function parseModelPrice(entry: unknown, path: string, rules: PriceTableRules): ModelPrice {
  const fields = readObject(entry, path, ['model', 'image', 'tokens'], 'an object with model and image and/or tokens');
  const { model, image, tokens } = fields;
  if (typeof model !== 'string' || !rules.isModelName(model)) throw new PriceTableProblem(`${path}.model`, 'must be an upstream model name');
  if (image === undefined && tokens === undefined) throw new PriceTableProblem(path, 'must have image prices, token prices or both');
  return {
    model,
    ...(image === undefined ? {} : { image: parseImagePrices(image, `${path}.image`) }),
    ...(tokens === undefined ? {} : { tokens: parsePriceGroup(tokens, `${path}.tokens`, TOKEN_PRICE_KINDS) }),
  };
}

function parseImagePrices(value: unknown, path: string): ImagePrices {
  const byQuality = readExactObject(value, path, PRICE_QUALITIES);
  const entries = PRICE_QUALITIES.map((q) => [q, parsePriceGroup(byQuality[q], `${path}.${q}`, PRICE_SIZES)] as const);
  return Object.fromEntries(entries) as unknown as ImagePrices;
}

/** An object holding exactly one price per name. */
function parsePriceGroup<N extends string>(value: unknown, path: string, names: readonly N[]): Readonly<Record<N, number>> {
  const fields = readExactObject(value, path, names);
  return Object.fromEntries(names.map((name) => [name, parsePrice(fields[name], `${path}.${name}`)])) as Record<N, number>;
}

function parsePrice(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_PRICE_USD) {
    throw new PriceTableProblem(path, `must be a number of USD from 0 to ${MAX_PRICE_USD}`);
  }
  return value;
}

/** An object with every one of `names` and nothing else. */
function readExactObject(value: unknown, path: string, names: readonly string[]): Record<string, unknown> {
  const list = names.join(', ');
  const fields = readObject(value, path, names, `an object of ${list}`);
  const missing = names.find((name) => fields[name] === undefined);
  if (missing !== undefined) throw new PriceTableProblem(`${path}.${missing}`, `is missing (${path} needs every one of ${list})`);
  return fields;
}

/** A plain JSON object whose keys are all among `allowed`. */
function readObject(value: unknown, path: string, allowed: readonly string[], shape: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new PriceTableProblem(path, `must be ${shape}`);
  const fields = value as Record<string, unknown>;
  const unknown = Object.keys(fields).find((name) => !allowed.includes(name));
  if (unknown !== undefined) throw new PriceTableProblem(`${path}.${unknown}`, `is not a field here (allowed: ${allowed.join(', ')})`);
  return fields;
}
