/** What client loops saw: requests sent, answers received whole as a success, and requests cut off by the gateway's end. */
export interface TrafficCounts {
  sent: number;
  successes: number;
  /**
   * Requests whose answer never arrived whole because the gateway went away (at most one per loop).
   * The gateway journals a success just before its last bytes go out, so such a request may be
   * counted as a success the client never saw: stored successes lie between `successes` and
   * `successes + cut`.
   */
  cut?: number;
}

/**
 * Sends one image generation after another with `secret` until `signal` aborts or the gateway stops
 * answering (a killed process refuses the next connection). A success is counted only once the whole
 * answer has arrived and holds one image: what a client would have been charged for.
 */
export async function sendUntilStopped(opts: { url: string; secret: string; counts: TrafficCounts; signal: AbortSignal }): Promise<void> {
  while (!opts.signal.aborted) {
    opts.counts.sent++;
    try {
      const res = await fetch(opts.url, {
        method: 'POST',
        headers: { authorization: `Bearer ${opts.secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'journal traffic' }),
      });
      const body = (await res.json()) as { data?: unknown[] };
      if (res.status === 200 && body.data?.length === 1) opts.counts.successes++;
    } catch {
      opts.counts.cut = (opts.counts.cut ?? 0) + 1;
      return; // the connection was cut or refused: the gateway is gone
    }
  }
}
