import type { Snapshot } from './types.js';

export interface SnapshotStoreOptions {
  load: () => Promise<Snapshot>;
  /** Subscribes to control-data changes; returns an unsubscribe function. */
  watch?: (onChange: () => void) => Promise<() => Promise<void>>;
  /** Safety-net reload period (changes normally arrive through `watch`). */
  pollMs: number;
  now?: () => number;
  onError?: (err: unknown) => void;
  /** Called with every snapshot loaded (for logs and gauges about its content). */
  onLoad?: (snapshot: Snapshot) => void;
}

/**
 * Holds the data plane's in-memory snapshot of control data. Reloads on every change notification
 * (coalesced: a burst of changes costs at most one extra load) and on a periodic poll. Readiness means
 * a snapshot is loaded, the database answered within three poll periods and the master key matches.
 */
export class SnapshotStore {
  private snapshot: Snapshot | null = null;
  private lastContactMs = 0;
  private inFlight: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private unwatch: (() => Promise<void>) | null = null;
  private readonly now: () => number;

  constructor(private readonly opts: SnapshotStoreOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Loads the first snapshot (throws if it cannot), then subscribes and starts polling. */
  async start(): Promise<void> {
    await this.reload();
    if (!this.snapshot) throw new Error('control data could not be loaded');
    if (this.opts.watch) this.unwatch = await this.opts.watch(() => void this.reload());
    this.timer = setInterval(() => void this.reload(), this.opts.pollMs);
    this.timer.unref();
  }

  current(): Snapshot | null {
    return this.snapshot;
  }

  /**
   * Ready: a snapshot is loaded, the database answered within three poll periods, and the master key
   * opens the database's credentials (`Snapshot.masterKeyMatches`; rechecked on every reload).
   */
  isReady(): boolean {
    return this.snapshot?.masterKeyMatches === true && this.now() - this.lastContactMs <= this.opts.pollMs * 3;
  }

  /** Reloads now; concurrent calls share the load in flight plus at most one follow-up. */
  reload(): Promise<void> {
    if (this.inFlight) {
      this.again = true;
      return this.inFlight;
    }
    this.inFlight = this.loadOnce().finally(() => {
      this.inFlight = null;
      if (this.again) {
        this.again = false;
        void this.reload();
      }
    });
    return this.inFlight;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.unwatch?.();
    this.unwatch = null;
    await this.inFlight;
  }

  private async loadOnce(): Promise<void> {
    try {
      this.snapshot = await this.opts.load();
      this.lastContactMs = this.now();
      this.opts.onLoad?.(this.snapshot);
    } catch (err) {
      // Keep serving the last good snapshot; readiness turns false if this goes on.
      this.opts.onError?.(err);
    }
  }
}
