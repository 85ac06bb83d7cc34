/**
 * The contract between JsonStreamLexer (grammar, bytes) and a sink that gives positions a meaning
 * (which values to count, capture or rewrite). Implementations: ImageResponseSink (upstream answers,
 * observe room) and ImageJsonSink (client JSON edits, images room).
 */

/** How a string value is observed: ignored, captured as text (capped), or only counted. */
export const CAPTURE = { none: 0, text: 1, count: 2 } as const;
export type Capture = (typeof CAPTURE)[keyof typeof CAPTURE];

/** Characters of a prefixed string value seen before its prefix is chosen (16 base64 chars = 12 bytes, enough to sniff an image type). */
export const VALUE_HEAD_CHARS = 16;

/** What positions mean. Slots and roles are the sink's own small integers; the lexer only stores them. */
export interface JsonPathSink {
  readonly rootSlot: number;
  /** A container opens in `slot`; returns the role of the new container. */
  onOpen(slot: number, isObject: boolean): number;
  /** An array element starts in a container of `role`; returns its slot. */
  onElement(role: number): number;
  /** A key was read in an object of `role` (null when too long); returns the slot of its value. */
  onKey(role: number, key: string | null): number;
  /** Whether keys of objects with this role are read at all (others are skipped unread). */
  captureKeys(role: number): boolean;
  /** How a string value in `slot` is observed; numbers and literals are reported when this is not `none`. */
  captureFor(slot: number): Capture;
  /** A captured scalar ended: string text, number text or literal; null text when it passed the cap. */
  onScalar(slot: number, kind: 'string' | 'number' | 'literal', text: string | null): void;
  /**
   * Pieces of a counted string's raw JSON text (escapes as written, so it stays valid inside another
   * JSON string), in order, as they arrive; views of the input, not copies. Optional.
   */
  onCountedBytes?(slot: number, raw: Buffer): void;
  /** A counted string ended: decoded characters and how many `=` it ends with. */
  onCounted(slot: number, chars: number, trailingEquals: number): void;
  /** Whether keys of objects with this role may be rewritten (they are then held until complete). */
  rewriteKeys(role: number): boolean;
  /** Replacement bytes for a held key token (quotes included), or null to keep it. */
  rewriteKey(role: number, key: string | null): Buffer | null;
  /**
   * What stands in for a whole string value in `slot`, or null to keep it. Given bytes are emitted
   * right after the opening quote and the value's own bytes are dropped up to its closing quote; they
   * still reach the sink (counted or captured) as usual. Optional.
   */
  replaceValue?(slot: number): Buffer | null;
  /** Whether string values in `slot` get bytes inserted after their opening quote (see valuePrefix). */
  prefixesValue(slot: number): boolean;
  /**
   * The bytes to insert after the opening quote of a string value in a prefixed slot, given the
   * value's first VALUE_HEAD_CHARS characters (fewer when the string is shorter): the lexer holds
   * the value back until it has them, so the prefix can depend on what the value starts with.
   */
  valuePrefix(slot: number, head: string): Buffer;
}
