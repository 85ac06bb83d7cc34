import { isSuccessEvent } from './activity-query.js';
import type { ImageLogEvent } from './image-log-event.js';

const MINUTE_MS = 60_000;

/** One minute of the Overview charts. */
export interface OverviewMinute {
  /** Start of the minute (ms since epoch). */
  minute: number;
  /** Requests that ended in this minute. */
  requests: number;
  /** Images returned by successful requests. */
  images: number;
  successes: number;
  failures: number;
  /** Failed requests by the error class of their last line (`http_<status>` when it had none). */
  failuresByClass: Record<string, number>;
  /** Latency of the requests' final lines; null when none ended. */
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
}

/** Upstream attempts per account over the whole window. */
export interface AccountLoad {
  account: string;
  attempts: number;
  failures: number;
}

/** The Overview: `minutes` consecutive minutes ending with the current one, oldest first. */
export interface ActivityOverview {
  minutes: number;
  from: number;
  series: OverviewMinute[];
  accounts: AccountLoad[];
  totals: { requests: number; images: number; successes: number; failures: number };
}

/** The value at quantile `q` (0..1) of sorted numbers, nearest-rank; null when empty. */
export function computeQuantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1] ?? null;
}

/** The last-written line of each request (`events` newest first; equal `ts` keep their written order). */
function selectFinalLines(events: readonly ImageLogEvent[]): ImageLogEvent[] {
  const byRequest = new Map<string, ImageLogEvent>();
  const oldestFirst = [...events].reverse().sort((a, b) => a.ts - b.ts);
  for (const e of oldestFirst) byRequest.set(e.request_id, e);
  return [...byRequest.values()];
}

function buildEmptyMinute(minute: number): OverviewMinute {
  return { minute, requests: 0, images: 0, successes: 0, failures: 0, failuresByClass: {}, latencyP50Ms: null, latencyP95Ms: null };
}

function buildAccountLoad(events: readonly ImageLogEvent[]): AccountLoad[] {
  const load = new Map<string, AccountLoad>();
  for (const e of events) {
    if (e.event !== 'attempt' || e.account_name === null) continue;
    const row = load.get(e.account_name) ?? { account: e.account_name, attempts: 0, failures: 0 };
    load.set(e.account_name, { ...row, attempts: row.attempts + 1, failures: row.failures + (isSuccessEvent(e) ? 0 : 1) });
  }
  return [...load.values()].sort((a, b) => b.attempts - a.attempts || a.account.localeCompare(b.account));
}

/**
 * Per-minute series of the last `minutes` minutes (including the current one) from request-log lines
 * given newest first (as the activity buffer lists them):
 * a request counts in the minute of its final line; latency is that line's `duration_ms`.
 * Pure: `now` decides the window.
 */
export function buildActivityOverview(events: readonly ImageLogEvent[], minutes: number, now: number): ActivityOverview {
  const last = Math.floor(now / MINUTE_MS) * MINUTE_MS;
  const from = last - (minutes - 1) * MINUTE_MS;
  const series = Array.from({ length: minutes }, (_v, i) => buildEmptyMinute(from + i * MINUTE_MS));
  const inWindow = events.filter((e) => e.ts >= from && e.ts < last + MINUTE_MS);
  const latencies = series.map((): number[] => []);
  for (const e of selectFinalLines(inWindow)) {
    const index = Math.floor((e.ts - from) / MINUTE_MS);
    const m = series[index]!;
    m.requests += 1;
    latencies[index]!.push(e.duration_ms);
    if (isSuccessEvent(e)) {
      m.successes += 1;
      m.images += e.response_image_count ?? 0;
    } else {
      m.failures += 1;
      const cls = e.error_class ?? `http_${e.upstream_status}`;
      m.failuresByClass[cls] = (m.failuresByClass[cls] ?? 0) + 1;
    }
  }
  series.forEach((m, i) => {
    const sorted = latencies[i]!.sort((a, b) => a - b);
    m.latencyP50Ms = computeQuantile(sorted, 0.5);
    m.latencyP95Ms = computeQuantile(sorted, 0.95);
  });
  const sum = (pick: (m: OverviewMinute) => number) => series.reduce((acc, m) => acc + pick(m), 0);
  return {
    minutes,
    from,
    series,
    accounts: buildAccountLoad(inWindow),
    totals: { requests: sum((m) => m.requests), images: sum((m) => m.images), successes: sum((m) => m.successes), failures: sum((m) => m.failures) },
  };
}
