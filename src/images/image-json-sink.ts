import { randomUUID } from 'node:crypto';
import { CAPTURE, type Capture, type JsonPathSink } from '../json/json-path-sink.js';
import { ImageStringCollector, type StreamedImageString, type StreamedStringOptions } from './streamed-image-string.js';

/** Positions of the body the sink tells apart; everything else is `other`. */
const SLOT = { other: 0, root: 1, images: 2, mask: 3, element: 4, imageUrl: 5 } as const;
type Slot = (typeof SLOT)[keyof typeof SLOT];
/** Containers the sink tells apart: the root object, the `images` array, an image object (`{"image_url": …}`). */
const ROLE = { other: 0, root: 1, images: 2, imageObject: 3 } as const;

/** String positions that hold an image reference: `images[i]`, `mask`, and `image_url` inside either. */
const IMAGE_STRING_SLOTS: ReadonlySet<number> = new Set([SLOT.element, SLOT.mask, SLOT.imageUrl]);
const ROOT_KEYS: Readonly<Record<string, Slot>> = { images: SLOT.images, mask: SLOT.mask };
const EMPTY = Buffer.alloc(0);

/** What the sink needs: whether the body may carry images at all (edits), and how strings are collected. */
export interface ImageJsonSinkOptions extends Omit<StreamedStringOptions, 'field'> {
  readonly imageSlots: boolean;
}

/**
 * Gives a JSON image request's positions their meaning for JsonStreamLexer: every string where
 * parseImageSource looks for an image reference (`images[i]`, `images[i].image_url`, `mask`,
 * `mask.image_url`) is replaced in the lexer's output by a placeholder naming a collector, which
 * receives the string's raw bytes instead (and spools a long data URL as it arrives). The rest of
 * the body passes through untouched, so the output is the request minus its images, which the
 * ordinary JSON parser then reads; `lookup` maps a placeholder back to what it stood for.
 */
export class ImageJsonSink implements JsonPathSink {
  readonly rootSlot = SLOT.root;
  /** Unguessable per body, so a client string can never pass for a placeholder. */
  private readonly placeholderPrefix = `cig-streamed-image:${randomUUID()}:`;
  /** What each placeholder stands for, by index, settling as each string's spool finishes. */
  private readonly results: Promise<StreamedImageString>[] = [];
  private current: ImageStringCollector | null = null;
  private settled: Map<string, StreamedImageString> | null = null;

  constructor(private readonly options: ImageJsonSinkOptions) {}

  onOpen(slot: number, isObject: boolean): number {
    if (slot === SLOT.root) return isObject ? ROLE.root : ROLE.other;
    if (slot === SLOT.images) return isObject ? ROLE.other : ROLE.images;
    return isObject && (slot === SLOT.element || slot === SLOT.mask) ? ROLE.imageObject : ROLE.other;
  }

  onElement(role: number): number {
    return role === ROLE.images ? SLOT.element : SLOT.other;
  }

  onKey(role: number, key: string | null): number {
    if (key === null || !this.options.imageSlots) return SLOT.other;
    if (role === ROLE.root) return Object.hasOwn(ROOT_KEYS, key) ? ROOT_KEYS[key]! : SLOT.other;
    return role === ROLE.imageObject && key === 'image_url' ? SLOT.imageUrl : SLOT.other;
  }

  captureKeys(role: number): boolean {
    return role === ROLE.root || role === ROLE.imageObject;
  }

  captureFor(slot: number): Capture {
    return IMAGE_STRING_SLOTS.has(slot) ? CAPTURE.count : CAPTURE.none;
  }

  replaceValue(slot: number): Buffer | null {
    if (!IMAGE_STRING_SLOTS.has(slot)) return null;
    this.current = new ImageStringCollector({ ...this.options, field: `image ${this.results.length}` });
    return Buffer.from(`${this.placeholderPrefix}${this.results.length}`, 'latin1');
  }

  onCountedBytes(_slot: number, raw: Buffer): void {
    this.current?.write(raw);
  }

  onCounted(): void {
    if (this.current === null) return;
    this.results.push(this.current.end());
    this.current = null;
  }

  onScalar(): void {}

  rewriteKeys(): boolean {
    return false;
  }

  rewriteKey(): Buffer | null {
    return null;
  }

  prefixesValue(): boolean {
    return false;
  }

  valuePrefix(): Buffer {
    return EMPTY;
  }

  /** Resolves once every collector's spool has taken what it was given (backpressure). */
  drained(): Promise<void> {
    return this.current?.drained() ?? Promise.resolve();
  }

  /** True while the lexer is inside an image string (after the body ends: it ended, or the lexer failed, mid-string). */
  get insideImageString(): boolean {
    return this.current !== null;
  }

  /** Waits for every string's spool; afterwards `lookup` answers. Call once the body ended outside an image string. */
  async settle(): Promise<void> {
    const results = await Promise.all(this.results);
    this.settled = new Map(results.map((result, i) => [`${this.placeholderPrefix}${i}`, result]));
  }

  /** What a placeholder stood for; undefined for any other string. */
  lookup(value: string): StreamedImageString | undefined {
    return this.settled?.get(value);
  }

  /** Stops the unfinished string's spool (the body failed) and waits until no spool is writing, so a cleanup after it misses no file. */
  async abort(): Promise<void> {
    const current = this.current;
    this.current = null;
    await Promise.all([current?.abort(), ...this.results]);
  }

  /** Whether any string broke JSON itself (a raw control character), which makes the whole body invalid JSON. */
  hasInvalidJson(): boolean {
    return this.settled !== null && [...this.settled.values()].some((result) => result.kind === 'invalid_json');
  }
}
