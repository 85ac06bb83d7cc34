import { FIELD_LIMITS } from '../config/field-limits.js';
import type { ImageLogEvent } from './image-log-event.js';

/** Filters of the console's Activity list (all optional; every given one must match). */
export interface ActivityFilter {
  /** Key id or key name. */
  key?: string;
  /** Account name. */
  account?: string;
  /** `success` (2xx, no error class), `failure`, or an HTTP status such as `429`. */
  status?: string;
  errorClass?: string;
  /** Most lines returned, within FIELD_LIMITS.activityLimit (its default when absent). */
  limit?: number;
}

/** True when the line is a clean success. */
export const isSuccessEvent = (e: ImageLogEvent): boolean => e.upstream_status >= 200 && e.upstream_status < 300 && e.error_class === null;

function matchesStatus(e: ImageLogEvent, status: string): boolean {
  if (status === 'success') return isSuccessEvent(e);
  if (status === 'failure') return !isSuccessEvent(e);
  return String(e.upstream_status) === status;
}

/** The lines matching `filter`, in the given order (newest first from the buffer), at most `limit`. */
export function filterActivity(events: readonly ImageLogEvent[], filter: ActivityFilter): ImageLogEvent[] {
  const { min, max, default: byDefault } = FIELD_LIMITS.activityLimit;
  const limit = Math.min(Math.max(min, filter.limit ?? byDefault), max);
  const out: ImageLogEvent[] = [];
  for (const e of events) {
    if (out.length >= limit) break;
    if (filter.key && e.key_id !== filter.key && e.key_name !== filter.key) continue;
    if (filter.account && e.account_name !== filter.account) continue;
    if (filter.status && !matchesStatus(e, filter.status)) continue;
    if (filter.errorClass && e.error_class !== filter.errorClass) continue;
    out.push(e);
  }
  return out;
}

/**
 * Every line of one request (its attempts, then how it ended), oldest first. `events` are newest
 * first, as the buffer lists them; lines of one request share a `ts`, so their written order is kept.
 */
export function selectRequestLines(events: readonly ImageLogEvent[], requestId: string): ImageLogEvent[] {
  return events
    .filter((e) => e.request_id === requestId)
    .reverse()
    .sort((a, b) => a.ts - b.ts);
}
