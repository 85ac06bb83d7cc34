/** What one client loop saw: requests it sent, and answers it received whole as a success. */
export interface TrafficCounts {
  sent: number;
  successes: number;
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
      return; // the connection was cut or refused: the gateway is gone
    }
  }
}
