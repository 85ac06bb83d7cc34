import type { ResponseMetrics } from './image-log-event.js';
import { sniffImageType } from '../images/sniff-image-type.js';
import { CAPTURE, type Capture, type JsonPathSink } from '../json/json-path-sink.js';

/** Longest echoed option string reported (`size`, `quality`, …); longer values are reported as null. */
export const MAX_ECHO_CHARS = 64;

/** Slots: what a value position means in an Images API response. */
const SLOT = {
  other: 0,
  root: 1,
  data: 2,
  usage: 3,
  size: 4,
  quality: 5,
  outputFormat: 6,
  background: 7,
  dataItem: 8,
  b64: 9,
  inputTokens: 10,
  outputTokens: 11,
  totalTokens: 12,
  tokens: 13,
  inputDetails: 14,
  textTokens: 15,
  imageTokens: 16,
} as const;
/** Roles: what a container is. */
const ROLE = { other: 0, top: 1, data: 2, item: 3, usage: 4, inputDetails: 5 } as const;

/** The paths the tap reads: top-level members, `usage.*`, `data[i].b64_json`. */
export const COLLECTED_KEYS = {
  top: { data: SLOT.data, usage: SLOT.usage, size: SLOT.size, quality: SLOT.quality, output_format: SLOT.outputFormat, background: SLOT.background },
  usage: {
    input_tokens: SLOT.inputTokens,
    output_tokens: SLOT.outputTokens,
    total_tokens: SLOT.totalTokens,
    tokens: SLOT.tokens,
    input_tokens_details: SLOT.inputDetails,
  },
  inputDetails: { text_tokens: SLOT.textTokens, image_tokens: SLOT.imageTokens },
  item: { b64_json: SLOT.b64 },
} as const satisfies Record<string, Record<string, number>>;

/** The key table of each role that reads keys. */
const KEY_TABLES: Partial<Record<number, Readonly<Record<string, number>>>> = {
  [ROLE.top]: COLLECTED_KEYS.top,
  [ROLE.usage]: COLLECTED_KEYS.usage,
  [ROLE.inputDetails]: COLLECTED_KEYS.inputDetails,
  [ROLE.item]: COLLECTED_KEYS.item,
};

const ECHO_SLOTS: ReadonlySet<number> = new Set([SLOT.size, SLOT.quality, SLOT.outputFormat, SLOT.background]);
const USAGE_SLOTS: ReadonlySet<number> = new Set([SLOT.inputTokens, SLOT.outputTokens, SLOT.totalTokens, SLOT.tokens]);
const DETAIL_SLOTS: ReadonlySet<number> = new Set([SLOT.textTokens, SLOT.imageTokens]);
const URL_KEY_TOKEN = Buffer.from('"url"');

/** What was learned so far; counts and strings stay as the body declared them. */
export type ImageResponseFacts = Omit<ResponseMetrics, 'bodyBytes'>;

type UsageField = 'inputTokens' | 'outputTokens' | 'totalTokens' | 'tokens';

/** `usage.input_tokens_details` as the body said it (each null when absent). */
export interface InputTokenDetails {
  textTokens: number | null;
  imageTokens: number | null;
}

/** Told about each `data[i].b64_json` as its text arrives (for re-framing it without holding it). */
export interface ImageStringListener {
  /** Raw JSON text of the value (escapes as written), in pieces, in order; views of the input. */
  onImageBytes(raw: Buffer): void;
  /** The value ended. */
  onImageEnd(): void;
}

/** Replaces each `data[i].b64_json` value whole (hosted result URLs), told its text as it arrives. */
export interface ImageValueReplacer extends ImageStringListener {
  /** A value starts: the bytes that stand in for it, inside its quotes (the key becomes `url`). */
  onImageStart(): Buffer;
}
type EchoField = 'size' | 'quality' | 'outputFormat' | 'background';

/**
 * The JsonPathSink for an Images API response: counts `data[]`, sums decoded `b64_json` bytes, reads
 * usage and echoed options, and (with `urlFallbackMime`) turns `data[i].b64_json` into `data[i].url`
 * data URLs whose media type is sniffed from the image's first bytes.
 */
export class ImageResponseSink implements JsonPathSink {
  readonly rootSlot = SLOT.root;
  private imageCount: number | null = null;
  private imageBytes = 0;
  private usage: Record<UsageField, number | null> | null = null;
  private readonly echoed: Record<EchoField, string | null> = { size: null, quality: null, outputFormat: null, background: null };
  private details: InputTokenDetails | null = null;

  /**
   * `urlFallbackMime`: rewrite b64_json to data URLs, typed by the image's magic bytes, or by this
   * (the requested output format) when the bytes are not a PNG, JPEG or WebP; null = no rewrite.
   * `replacer`: instead, replace each b64_json value whole with what it says (the key becomes `url`).
   */
  constructor(
    private readonly urlFallbackMime: string | null,
    private readonly imageListener: ImageStringListener | null = null,
    private readonly replacer: ImageValueReplacer | null = null,
  ) {}

  /** `usage.input_tokens_details`, when the body had it. */
  inputTokenDetails(): InputTokenDetails | null {
    return this.details;
  }

  facts(): ImageResponseFacts {
    const u = this.usage;
    return {
      imageCount: this.imageCount,
      imageBytes: this.imageBytes,
      usage: u && {
        inputTokens: u.inputTokens,
        outputTokens: u.outputTokens,
        totalTokens: u.totalTokens ?? u.tokens,
        imageInputTokens: this.details?.imageTokens ?? null,
      },
      ...this.echoed,
    };
  }

  onOpen(slot: number, isObject: boolean): number {
    if (slot === SLOT.root && isObject) return ROLE.top;
    if (slot === SLOT.data && !isObject) {
      this.imageCount = 0;
      return ROLE.data;
    }
    if (slot === SLOT.dataItem && isObject) return ROLE.item;
    if (slot === SLOT.usage && isObject) {
      this.usage = { inputTokens: null, outputTokens: null, totalTokens: null, tokens: null };
      return ROLE.usage;
    }
    if (slot === SLOT.inputDetails && isObject) {
      this.details = { textTokens: null, imageTokens: null };
      return ROLE.inputDetails;
    }
    return ROLE.other;
  }

  onElement(role: number): number {
    if (role !== ROLE.data) return SLOT.other;
    this.imageCount = (this.imageCount ?? 0) + 1;
    return SLOT.dataItem;
  }

  onKey(role: number, key: string | null): number {
    if (key === null) return SLOT.other;
    const table = KEY_TABLES[role] ?? null;
    return table && Object.hasOwn(table, key) ? table[key]! : SLOT.other;
  }

  captureKeys(role: number): boolean {
    return role !== ROLE.other && role !== ROLE.data;
  }

  captureFor(slot: number): Capture {
    if (slot === SLOT.b64) return CAPTURE.count;
    return ECHO_SLOTS.has(slot) || USAGE_SLOTS.has(slot) || DETAIL_SLOTS.has(slot) ? CAPTURE.text : CAPTURE.none;
  }

  onScalar(slot: number, kind: 'string' | 'number' | 'literal', text: string | null): void {
    if (ECHO_SLOTS.has(slot)) {
      this.echoed[echoField(slot)] = kind === 'string' && text !== null && text.length <= MAX_ECHO_CHARS ? text : null;
    } else if (USAGE_SLOTS.has(slot) && this.usage) {
      this.usage[usageField(slot)] = kind === 'number' ? parseTokenCount(text) : null;
    } else if (DETAIL_SLOTS.has(slot) && this.details) {
      this.details[slot === SLOT.textTokens ? 'textTokens' : 'imageTokens'] = kind === 'number' ? parseTokenCount(text) : null;
    }
  }

  onCountedBytes(slot: number, raw: Buffer): void {
    if (slot !== SLOT.b64) return;
    this.imageListener?.onImageBytes(raw);
    this.replacer?.onImageBytes(raw);
  }

  /** Decoded size of base64 text: floor(len*3/4) minus the trailing `=` count. */
  onCounted(_slot: number, chars: number, trailingEquals: number): void {
    this.imageBytes += Math.max(0, Math.floor((chars * 3) / 4) - trailingEquals);
    this.imageListener?.onImageEnd();
    this.replacer?.onImageEnd();
  }

  rewriteKeys(role: number): boolean {
    return (this.urlFallbackMime !== null || this.replacer !== null) && role === ROLE.item;
  }

  replaceValue(slot: number): Buffer | null {
    return slot === SLOT.b64 && this.replacer ? this.replacer.onImageStart() : null;
  }

  rewriteKey(_role: number, key: string | null): Buffer | null {
    return key === 'b64_json' ? URL_KEY_TOKEN : null;
  }

  prefixesValue(slot: number): boolean {
    return this.urlFallbackMime !== null && slot === SLOT.b64;
  }

  valuePrefix(_slot: number, head: string): Buffer {
    const mime = sniffImageType(Buffer.from(head, 'base64')) ?? this.urlFallbackMime;
    return Buffer.from(`data:${mime};base64,`, 'latin1');
  }
}

function echoField(slot: number): EchoField {
  return slot === SLOT.size ? 'size' : slot === SLOT.quality ? 'quality' : slot === SLOT.outputFormat ? 'outputFormat' : 'background';
}

function usageField(slot: number): UsageField {
  return slot === SLOT.inputTokens ? 'inputTokens' : slot === SLOT.outputTokens ? 'outputTokens' : slot === SLOT.totalTokens ? 'totalTokens' : 'tokens';
}

/** Token counts are unsigned integers; anything else (negative, fractional, huge) is unknown. */
function parseTokenCount(text: string | null): number | null {
  if (text === null) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}
