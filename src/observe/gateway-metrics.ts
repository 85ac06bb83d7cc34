import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ImageEndpoint } from '../images/image-request.js';
import {
  MAX_ACCOUNT_LABELS,
  resolveEndpointLabel,
  resolveErrorClassLabel,
  resolveStatusClass,
  resolveQueueWaitResult,
  resolveStatusLabel,
  type LimiterLabel,
  type QueueWaitResult,
} from './metric-labels.js';

/** Metric names, one place (dashboards and tests import them). */
export const METRIC_NAMES = {
  requests: 'codex_image_requests_total',
  requestDuration: 'codex_image_request_duration_seconds',
  upstreamTtfb: 'codex_image_upstream_ttfb_seconds',
  failovers: 'codex_image_failovers_total',
  limiterRejections: 'codex_image_limiter_rejections_total',
  accountInflight: 'codex_image_account_inflight',
  upstreamResponses: 'codex_image_upstream_responses_total',
  imagesReturned: 'codex_image_images_returned_total',
  responseBytes: 'codex_image_response_bytes_total',
  accountsUnreadable: 'codex_image_accounts_unreadable',
  queueWait: 'codex_image_queue_wait_seconds',
  queuedRequests: 'codex_image_queued_requests',
  coordinationMode: 'codex_image_coordination_mode',
} as const satisfies Record<string, string>;

/** Histogram buckets in seconds: image generation takes 40–120 s and can pass 4 minutes. */
export const DURATION_BUCKETS_SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 45, 60, 90, 120, 180, 240, 300, 420, 600] as const;

/** Queue-wait buckets in seconds: most waits end within a generation (40–120 s); ADMISSION_WAIT_MS is 30 s by default. */
export const QUEUE_WAIT_BUCKETS_SECONDS = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 45, 60, 120, 300, 600] as const;

/**
 * Typed recording handles. Every label value goes through a resolver from metric-labels.ts, so no
 * caller can create an unbounded series, and nothing from a client (key ids, prompts) is a label.
 */
export interface GatewayMetrics {
  /** One finished public request: its final status and error class (null = success). */
  requests: { inc(labels: { endpoint: ImageEndpoint; status: number; errorClass: string | null }): void };
  requestDuration: { observe(labels: { endpoint: ImageEndpoint }, seconds: number): void };
  /** Time from sending upstream to the response headers. */
  upstreamTtfb: { observe(labels: { endpoint: ImageEndpoint }, seconds: number): void };
  /** One move to the next account; `reason` is a failure class. */
  failovers: { inc(labels: { reason: string }): void };
  limiterRejections: { inc(labels: { limiter: LimiterLabel }): void };
  /** In-flight requests per account NAME (operator-chosen, bounded by the account count). */
  accountInflight: {
    inc(account: string): void;
    dec(account: string): void;
    /** Sets the account's figure outright (for reporters that know the current count). */
    set(account: string, inFlight: number): void;
    /** Drops the series of an account that was removed. */
    remove(account: string): void;
  };
  upstreamResponses: { inc(labels: { status: number }): void };
  imagesReturned: { inc(count: number): void };
  responseBytes: { inc(bytes: number): void };
  /** Accounts in the current snapshot whose sealed credentials or proxy cannot be opened. */
  accountsUnreadable: { set(count: number): void };
  /** One wait for an account slot (the admission queue) and how it ended. */
  queueWait: { observe(labels: { result: QueueWaitResult }, seconds: number): void };
  /** Requests (and job parts) waiting for an account slot now. */
  queuedRequests: { set(count: number): void };
  /**
   * With REDIS_URL: 1 on the mode this process limits in (`shared` through Redis, `local` with split
   * caps while Redis is out of reach), 0 on the other. Without it the series stay absent.
   */
  coordinationMode: { set(mode: 'shared' | 'local'): void };
  /** The Prometheus text exposition of this registry. */
  render(): Promise<{ contentType: string; body: string }>;
  /** The registry itself, for tests and for adding process-level collectors. */
  readonly registry: Registry;
}

/**
 * Builds the gateway's metrics on its OWN registry (never prom-client's global one, so two instances
 * in one process, e.g. tests or the all-in-one mode, do not collide), with default process metrics.
 */
export function createGatewayMetrics(): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const counter = <T extends string>(name: string, help: string, labelNames: readonly T[]) => new Counter<T>({ name, help, labelNames, registers });
  const histogram = (name: string, help: string) =>
    new Histogram<'endpoint'>({ name, help, labelNames: ['endpoint'], buckets: [...DURATION_BUCKETS_SECONDS], registers });

  const requests = counter(METRIC_NAMES.requests, 'Finished image requests by final status and error class', ['endpoint', 'status', 'error_class']);
  const duration = histogram(METRIC_NAMES.requestDuration, 'Image request duration in seconds, all attempts');
  const ttfb = histogram(METRIC_NAMES.upstreamTtfb, 'Upstream time to response headers in seconds');
  const failovers = counter(METRIC_NAMES.failovers, 'Moves to the next account, by failure class', ['reason']);
  const rejections = counter(METRIC_NAMES.limiterRejections, 'Requests refused by a limiter', ['limiter']);
  const inflight = new Gauge<'account'>({
    name: METRIC_NAMES.accountInflight,
    help: 'In-flight upstream requests per account',
    labelNames: ['account'],
    registers,
  });
  const upstream = counter(METRIC_NAMES.upstreamResponses, 'Upstream responses by status class', ['status_class']);
  const images = counter(METRIC_NAMES.imagesReturned, 'Images returned to clients', []);
  const bytes = counter(METRIC_NAMES.responseBytes, 'Response body bytes returned to clients', []);
  const unreadable = new Gauge({ name: METRIC_NAMES.accountsUnreadable, help: 'Accounts whose stored credentials cannot be opened', registers });
  const queueWait = new Histogram<'result'>({
    name: METRIC_NAMES.queueWait,
    help: 'Time waited for an account slot with every eligible account at its cap, by how the wait ended',
    labelNames: ['result'],
    buckets: [...QUEUE_WAIT_BUCKETS_SECONDS],
    registers,
  });
  const queued = new Gauge({ name: METRIC_NAMES.queuedRequests, help: 'Requests waiting for an account slot now', registers });
  const coordination = new Gauge<'mode'>({
    name: METRIC_NAMES.coordinationMode,
    help: 'With REDIS_URL: 1 on the mode limits are kept in (shared = through Redis, local = split caps while Redis is out of reach)',
    labelNames: ['mode'],
    registers,
  });
  const accountLabel = createAccountLabeler();

  return {
    registry,
    requests: {
      inc: ({ endpoint, status, errorClass }) =>
        requests.inc({ endpoint: resolveEndpointLabel(endpoint), status: resolveStatusLabel(status), error_class: resolveErrorClassLabel(errorClass) }),
    },
    requestDuration: { observe: ({ endpoint }, seconds) => duration.observe({ endpoint: resolveEndpointLabel(endpoint) }, seconds) },
    upstreamTtfb: { observe: ({ endpoint }, seconds) => ttfb.observe({ endpoint: resolveEndpointLabel(endpoint) }, seconds) },
    failovers: { inc: ({ reason }) => failovers.inc({ reason: resolveErrorClassLabel(reason) }) },
    limiterRejections: { inc: ({ limiter }) => rejections.inc({ limiter: limiter === 'key' ? 'key' : 'account' }) },
    accountInflight: {
      inc: (account) => inflight.inc({ account: accountLabel.resolve(account) }),
      dec: (account) => inflight.dec({ account: accountLabel.resolve(account) }),
      set: (account, inFlight) => {
        if (Number.isFinite(inFlight) && inFlight >= 0) inflight.set({ account: accountLabel.resolve(account) }, inFlight);
      },
      remove: (account) => {
        if (accountLabel.forget(account)) inflight.remove({ account });
      },
    },
    upstreamResponses: { inc: ({ status }) => upstream.inc({ status_class: resolveStatusClass(status) }) },
    imagesReturned: { inc: (count) => incIfPositive(images, count) },
    responseBytes: { inc: (n) => incIfPositive(bytes, n) },
    accountsUnreadable: { set: (count) => unreadable.set(count) },
    queueWait: {
      observe: ({ result }, seconds) => {
        if (Number.isFinite(seconds) && seconds >= 0) queueWait.observe({ result: resolveQueueWaitResult(result) }, seconds);
      },
    },
    queuedRequests: { set: (count) => queued.set(count) },
    coordinationMode: {
      set: (mode) => {
        coordination.set({ mode: 'shared' }, mode === 'shared' ? 1 : 0);
        coordination.set({ mode: 'local' }, mode === 'local' ? 1 : 0);
      },
    },
    render: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
  };
}

/** Remembers up to MAX_ACCOUNT_LABELS account names; later new names share the label `other`. */
function createAccountLabeler(): { resolve(name: string): string; forget(name: string): boolean } {
  const seen = new Set<string>();
  return {
    resolve(name) {
      if (seen.has(name)) return name;
      if (seen.size >= MAX_ACCOUNT_LABELS) return 'other';
      seen.add(name);
      return name;
    },
    forget: (name) => seen.delete(name),
  };
}

/** Counters only go up; a negative or non-finite amount is a caller bug and is ignored rather than thrown on the hot path. */
function incIfPositive(counter: Counter<string>, amount: number): void {
  if (Number.isFinite(amount) && amount > 0) counter.inc(amount);
}
