/**
 * Re-emits a stream's chunks in order while letting a scanner hold back a short token (so it can be
 * replaced once complete) or insert bytes at a position. Unchanged stretches are emitted as views of
 * the input chunk (no copies); only held bytes are copied, and the caller keeps those short.
 */
export class ChunkEmitter {
  private chunk: Buffer = Buffer.alloc(0);
  private emit: (bytes: Buffer) => void = () => undefined;
  /** Bytes [emitFrom, …) of the current chunk are not emitted yet. */
  private emitFrom = 0;
  private held: Buffer[] = [];
  private heldBytesNow = 0;
  private holdingNow = false;
  private droppingNow = false;

  /** Starts a new chunk; `emit` receives output in order. */
  begin(chunk: Buffer, emit: (bytes: Buffer) => void): void {
    this.chunk = chunk;
    this.emit = emit;
    this.emitFrom = 0;
  }

  get holding(): boolean {
    return this.holdingNow;
  }

  /** True between `startDrop` and `endDrop`. */
  get dropping(): boolean {
    return this.droppingNow;
  }

  /** Bytes copied into the hold so far. */
  get heldBytes(): number {
    return this.heldBytesNow;
  }

  /** Emits the current chunk up to `i` (exclusive). */
  emitTo(i: number): void {
    if (i <= this.emitFrom) return;
    this.emit(this.emitFrom === 0 && i === this.chunk.length ? this.chunk : this.chunk.subarray(this.emitFrom, i));
    this.emitFrom = i;
  }

  /** Holds output from position `i` on, until `endHold`. */
  startHold(i: number): void {
    this.emitTo(i);
    this.holdingNow = true;
  }

  /** Ends the hold at `end` (exclusive): emits `replacement` instead of the held bytes, or the held bytes as they were. */
  endHold(end: number, replacement: Buffer | null): void {
    if (replacement) {
      this.held = [];
      this.heldBytesNow = 0;
      this.holdingNow = false;
      this.emit(replacement);
      this.emitFrom = end;
      return;
    }
    this.releaseHeld();
    this.emitTo(end);
  }

  /** Emits the current chunk up to `i`, then `replacement`; input from `i` on is dropped until `endDrop`. */
  startDrop(i: number, replacement: Buffer): void {
    this.emitTo(i);
    this.emit(replacement);
    this.droppingNow = true;
  }

  /** Stops dropping: output goes on from position `i` of the current chunk. */
  endDrop(i: number): void {
    this.emitFrom = i;
    this.droppingNow = false;
  }

  /** Ends the chunk: drops its tail while dropping, keeps it in the hold while holding, else emits it (and anything held). */
  finishChunk(): void {
    if (this.droppingNow) {
      this.emitFrom = this.chunk.length;
      return;
    }
    if (this.holdingNow) {
      this.heldBytesNow += this.chunk.length - this.emitFrom;
      this.held.push(Buffer.from(this.chunk.subarray(this.emitFrom)));
      this.emitFrom = this.chunk.length;
      return;
    }
    this.emitTo(this.chunk.length);
  }

  /** Emits `bytes`, then the held bytes, and stops holding: output goes on from where the hold began. */
  releaseHeldAfter(bytes: Buffer): void {
    this.emit(bytes);
    this.releaseHeld();
  }

  /** Emits held bytes unchanged and stops holding (on failure or at the end of the body). */
  releaseHeld(): void {
    for (const bytes of this.held) this.emit(bytes);
    this.held = [];
    this.heldBytesNow = 0;
    this.holdingNow = false;
  }

  /** Switches the output callback (the end of the body has no chunk). */
  setEmit(emit: (bytes: Buffer) => void): void {
    this.emit = emit;
  }
}
