/** Whether limits are shared through Redis or kept by each process alone. */
export type CoordinationMode = 'shared' | 'local';

/**
 * Why the mode changed: `connected` (the connection became ready, scripts reload on first use),
 * `recovered` (a probe answered after failed calls on an open connection), `connection_lost` (the
 * connection closed), `command_failed` (a call timed out or Redis could not serve it).
 */
export type ModeChangeCause = 'connected' | 'recovered' | 'connection_lost' | 'command_failed';

export interface ModeChange {
  mode: CoordinationMode;
  cause: ModeChangeCause;
}

/**
 * The two-state machine of the coordinator's connection. It starts `local` (nothing is shared until
 * Redis answers) and tells its listeners each real transition once, so the runtime can log it and set
 * its metric without counting repeats. It logs nothing itself.
 */
export class ConnectionMode {
  private current: CoordinationMode = 'local';
  private readonly listeners = new Set<(change: ModeChange) => void>();

  get mode(): CoordinationMode {
    return this.current;
  }

  /** Adds a listener (it must not throw); returns its removal. */
  onChange(listener: (change: ModeChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Moves to `mode`; a move to the current mode is no change and nobody hears of it. */
  set(mode: CoordinationMode, cause: ModeChangeCause): void {
    if (mode === this.current) return;
    this.current = mode;
    for (const listener of this.listeners) listener({ mode, cause });
  }
}
