/** How often a data plane deletes expired hosted results. Expired rows are never served, so this only bounds disk use. */
export const HOSTED_RESULT_SWEEP_MS = 60_000;

export interface HostedResultSweeperOptions {
  /** One sweep: HostedResults.sweep, or the usage rollups' (usage-rollup-repo.ts), which rides the same timer shape. */
  sweep: () => Promise<unknown>;
  /** Between the end of one sweep and the start of the next. Default HOSTED_RESULT_SWEEP_MS. */
  intervalMs?: number;
  /** A failed sweep is reported here and retried at the next interval. Must not throw. */
  onError: (err: unknown) => void;
}

/** A running sweeper. */
export interface HostedResultSweeper {
  /** Stops the timer and waits for a sweep in progress; no sweep starts after it resolves. */
  stop(): Promise<void>;
}

/**
 * Deletes expired hosted results every `intervalMs`, one sweep at a time (every data plane runs one;
 * concurrent sweeps on one database are harmless). The timer does not keep the process alive.
 */
export function startHostedResultSweeper(opts: HostedResultSweeperOptions): HostedResultSweeper {
  const intervalMs = opts.intervalMs ?? HOSTED_RESULT_SWEEP_MS;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | null = null;
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = opts
        .sweep()
        .then(
          () => undefined,
          (err: unknown) => opts.onError(err),
        )
        .finally(schedule);
    }, intervalMs);
    timer.unref();
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
