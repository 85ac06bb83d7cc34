import { ERRORS } from '../errors/codes.js';
import { FAILURE_CLASSES, type FailureClass } from '../errors/failure-classes.js';

/**
 * The allowed values of every metric label. Prometheus keeps one series per label combination, so a
 * value taken from a client (or from an upstream message) could grow memory without bound; each
 * resolver below maps anything outside its table to a fixed fallback.
 */

type ErrorCodeName = keyof typeof ERRORS;

/** `error_class` values: `none` for success, the pipeline classes, every gateway error code, `other`. */
export const ERROR_CLASSES: readonly string[] = [...new Set<string>(['none', ...FAILURE_CLASSES, ...(Object.keys(ERRORS) as ErrorCodeName[]), 'other'])];

export type ErrorClassLabel = FailureClass | ErrorCodeName | 'none' | 'other';

/** `status_class` values. */
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'other'] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

/** Statuses kept exact in the `status` label (the gateway's own plus the usual upstream ones); others become their class. */
export const EXACT_STATUSES: readonly number[] = [
  ...new Set<number>([200, 400, 401, 403, 404, 408, 409, 413, 415, 422, 429, 500, 502, 503, 504, ...Object.values(ERRORS).map((e) => e.status)]),
].sort((a, b) => a - b);

/** `endpoint` values. */
export const ENDPOINT_LABELS = ['generations', 'edits', 'other'] as const;
export type EndpointLabel = (typeof ENDPOINT_LABELS)[number];

/** `limiter` values. */
export const LIMITER_LABELS = ['key', 'account'] as const;
export type LimiterLabel = (typeof LIMITER_LABELS)[number];

/** `result` values of the queue-wait histogram: how a wait for an account slot ended. */
export const QUEUE_WAIT_RESULTS = ['taken', 'timeout', 'aborted', 'queue_full'] as const;
export type QueueWaitResult = (typeof QUEUE_WAIT_RESULTS)[number];

/** Distinct account names labelled before further names collapse into `other` (a second net; names are operator-chosen). */
export const MAX_ACCOUNT_LABELS = 1024;

const errorClassSet: ReadonlySet<string> = new Set(ERROR_CLASSES);
const exactStatusSet: ReadonlySet<number> = new Set(EXACT_STATUSES);

/** Maps a failure class to its label: null/undefined → `none`, anything outside ERROR_CLASSES → `other`. */
export function resolveErrorClassLabel(errorClass: string | null | undefined): ErrorClassLabel {
  if (errorClass === null || errorClass === undefined) return 'none';
  return errorClassSet.has(errorClass) ? (errorClass as ErrorClassLabel) : 'other';
}

/** Maps any HTTP status to `1xx`…`5xx`; non-integers and values outside 100–599 → `other`. */
export function resolveStatusClass(status: number): StatusClass {
  if (!Number.isInteger(status) || status < 100 || status > 599) return 'other';
  return `${Math.floor(status / 100)}xx` as StatusClass;
}

/** The `status` label: the exact code when it is in EXACT_STATUSES, else its class (`418` → `4xx`). */
export function resolveStatusLabel(status: number): string {
  return exactStatusSet.has(status) ? String(status) : resolveStatusClass(status);
}

/** The `endpoint` label; anything but the two public endpoints → `other`. */
export function resolveEndpointLabel(endpoint: string): EndpointLabel {
  return endpoint === 'generations' || endpoint === 'edits' ? endpoint : 'other';
}

/** The queue-wait `result` label; anything outside QUEUE_WAIT_RESULTS → `aborted` (a wait that ended without a slot). */
export function resolveQueueWaitResult(result: string): QueueWaitResult {
  return (QUEUE_WAIT_RESULTS as readonly string[]).includes(result) ? (result as QueueWaitResult) : 'aborted';
}
