/**
 * What a request costs by the price table, in integer micro-USD (1e-6 USD), always an estimate:
 * after it ran (`estimateCostMicros`, recorded into the usage counters and rollups) and before it
 * runs (`estimateRequestReservation`, what a budget sets aside at admission). Pure and cheap: a
 * table lookup and a few multiplications per request.
 *
 * How a request's options meet the table (one rule for both functions):
 * - quality `low` / `medium` / `high` is priced as itself; `auto`, none or anything else as `high`,
 *   the dearest, so an estimate made before the model chose does not fall short;
 * - size 1024x1024 / 1024x1536 / 1536x1024 is priced as itself; `auto`, none or an unreadable size as
 *   the dearest of the three at that quality; any other `WxH` as the priced size of its orientation
 *   (square, portrait, landscape) scaled by its pixel count over that size's.
 * The upstream's echoed quality and size, when it sent them, are what the caller passes after a run.
 */
import { MICROS_PER_USD, PRICE_SIZES, type ModelPrice, type PriceQuality, type PriceSize, type PriceTable, type TokenPrices } from './price-table.js';

/**
 * Image output tokens per image by quality and size (gpt-image-1 and 1.5, as published): what a
 * token-priced model is expected to spend when nothing better is known.
 */
export const OUTPUT_TOKENS_PER_IMAGE = {
  low: { '1024x1024': 272, '1024x1536': 408, '1536x1024': 400 },
  medium: { '1024x1024': 1056, '1024x1536': 1584, '1536x1024': 1568 },
  high: { '1024x1024': 4160, '1024x1536': 6240, '1536x1024': 6208 },
} as const satisfies Record<PriceQuality, Record<PriceSize, number>>;

/** Prompt characters per text token, the usual rule of thumb for English text. */
export const PROMPT_CHARS_PER_TOKEN = 4;

/** What a finished request produced, as its usage counters hold it. */
export interface CostInput {
  /** The upstream model (after model mapping). */
  model: string;
  /** The quality and size the upstream echoed, else the ones requested; null when neither is known. */
  quality: string | null;
  size: string | null;
  /** Images delivered. */
  images: number;
  /** The upstream's reported usage; null when it reported none. `imageInputTokens` null: all input counts as text. */
  usage: { inputTokens: number | null; outputTokens: number | null; imageInputTokens: number | null } | null;
}

/**
 * A cost estimate. `priced` is false when the request produced images or tokens for a model the table
 * does not price: its cost counts as 0, and reports say how many such requests there were.
 */
export interface CostEstimate {
  costMicros: number;
  priced: boolean;
}

/**
 * A finished request's estimated cost: by its model's token prices when the upstream reported usage;
 * else by its per-image price for the quality and size; else, for a model with token prices only,
 * by the output tokens its images are expected to take (OUTPUT_TOKENS_PER_IMAGE); 0 when it
 * produced nothing. Rounded to whole micro-USD.
 */
export function estimateCostMicros(table: PriceTable, input: CostInput): CostEstimate {
  const price = findModelPrice(table, input.model);
  const images = toCount(input.images);
  const usage = input.usage;
  const reported = usage !== null && (usage.inputTokens !== null || usage.outputTokens !== null);
  if (!price) return { costMicros: 0, priced: images === 0 && (!reported || toCount(usage.inputTokens) + toCount(usage.outputTokens) === 0) };
  if (price.tokens && reported) return { costMicros: Math.round(priceReportedTokens(price.tokens, usage)), priced: true };
  if (images === 0) return { costMicros: 0, priced: true };
  const quality = resolvePriceQuality(input.quality);
  const perImage = price.image ? priceImageMicros(price, quality, input.size) : priceOutputTokens(price.tokens!, quality, input.size);
  return { costMicros: Math.round(images * perImage), priced: true };
}

/** What a request is expected to take before it runs: images, tokens (prompt in, images out) and their estimated cost. */
export interface RequestReservation {
  images: number;
  tokens: number;
  costMicros: number;
}

/** A request as admission sees it. */
export interface ReservationInput {
  model: string;
  /** As requested (absent: null). */
  quality: string | null;
  size: string | null;
  /** Images asked for. */
  n: number;
  /** The prompt's length in characters. */
  promptChars: number;
}

/**
 * The a-priori estimate of a request, for budget reservations: `n` images; tokens = the prompt's
 * (characters / PROMPT_CHARS_PER_TOKEN, rounded up) plus `n` × the expected output tokens per image;
 * cost by the model's token prices over those tokens when it has them, else `n` × its per-image
 * price, else 0. Input images of an edit are not counted (their tokens are known only afterwards).
 */
export function estimateRequestReservation(table: PriceTable, input: ReservationInput): RequestReservation {
  const images = toCount(input.n);
  const quality = resolvePriceQuality(input.quality);
  const promptTokens = Math.ceil(toCount(input.promptChars) / PROMPT_CHARS_PER_TOKEN);
  const outputTokens = images * expectOutputTokens(quality, input.size);
  const tokens = promptTokens + Math.ceil(outputTokens);
  const price = findModelPrice(table, input.model);
  let costMicros = 0;
  if (price?.tokens) costMicros = promptTokens * price.tokens.text + outputTokens * price.tokens.output;
  else if (price?.image) costMicros = images * priceImageMicros(price, quality, input.size);
  return { images, tokens, costMicros: Math.round(costMicros) };
}

/** Each table's entries by model, built once per table (a settings load makes a new table). */
const INDEXES = new WeakMap<PriceTable, ReadonlyMap<string, ModelPrice>>();

/** A model's entry in the table, or undefined when the table does not price it. */
export function findModelPrice(table: PriceTable, model: string): ModelPrice | undefined {
  let index = INDEXES.get(table);
  if (!index) {
    index = new Map(table.map((entry) => [entry.model, entry]));
    INDEXES.set(table, index);
  }
  return index.get(model);
}

/** `low`/`medium`/`high` as themselves; `auto`, none or anything else as `high`. */
export function resolvePriceQuality(quality: string | null): PriceQuality {
  return quality === 'low' || quality === 'medium' ? quality : 'high';
}

const SIZE_PATTERN = /^([1-9]\d{0,4})x([1-9]\d{0,4})$/;
const PIXELS: Record<PriceSize, number> = { '1024x1024': 1024 * 1024, '1024x1536': 1024 * 1536, '1536x1024': 1536 * 1024 };

/**
 * The priced size a requested size counts as, and the factor its cost is scaled by: a priced size is
 * itself (1); another `WxH` is the priced size of its orientation, scaled by pixels; `auto`, none or
 * an unreadable size is null (the caller takes the dearest size).
 */
export function resolvePriceSize(size: string | null): { size: PriceSize; scale: number } | null {
  if (size === '1024x1024' || size === '1024x1536' || size === '1536x1024') return { size, scale: 1 };
  const match = size === null ? null : SIZE_PATTERN.exec(size);
  if (!match) return null;
  const [width, height] = [Number(match[1]), Number(match[2])];
  const base: PriceSize = width === height ? '1024x1024' : width < height ? '1024x1536' : '1536x1024';
  return { size: base, scale: (width * height) / PIXELS[base] };
}

/** One image's price in micro-USD (fractional; the caller rounds the total). */
function priceImageMicros(price: ModelPrice, quality: PriceQuality, size: string | null): number {
  const bySize = price.image![quality];
  const resolved = resolvePriceSize(size);
  const usd = resolved ? bySize[resolved.size] * resolved.scale : Math.max(...PRICE_SIZES.map((s) => bySize[s]));
  return usd * MICROS_PER_USD;
}

/** Expected output tokens of one image (fractional for a scaled size). */
function expectOutputTokens(quality: PriceQuality, size: string | null): number {
  const bySize = OUTPUT_TOKENS_PER_IMAGE[quality];
  const resolved = resolvePriceSize(size);
  return resolved ? bySize[resolved.size] * resolved.scale : Math.max(...PRICE_SIZES.map((s) => bySize[s]));
}

/** One image's expected cost in micro-USD by output tokens. */
function priceOutputTokens(tokens: TokenPrices, quality: PriceQuality, size: string | null): number {
  return expectOutputTokens(quality, size) * tokens.output;
}

/**
 * Reported usage at token prices, in micro-USD: USD per 1M tokens is micro-USD per token. Image
 * input tokens are the part of the input the upstream said came from images; the rest is text.
 */
function priceReportedTokens(tokens: TokenPrices, usage: NonNullable<CostInput['usage']>): number {
  const input = toCount(usage.inputTokens);
  const imageInput = Math.min(input, toCount(usage.imageInputTokens));
  return (input - imageInput) * tokens.text + imageInput * tokens.image + toCount(usage.outputTokens) * tokens.output;
}

function toCount(n: number | null): number {
  return n !== null && Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}
