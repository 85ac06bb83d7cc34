import type { BudgetLedger } from '../limits/key-budget.js';
import type { Config } from '../config/config.js';
import type { DataPlaneStatusSource } from '../control/data-plane-status.js';
import type { AccountHealth } from '../dispatch/account-health.js';
import type { CoordinatedSlots } from '../dispatch/coordinated-slots.js';
import type { AccountLimiter } from '../limits/account-limiter.js';
import type { AdmissionQueue } from '../limits/admission-queue.js';
import type { BodyBudget } from '../limits/body-budget.js';
import type { KeyLimiter } from '../limits/key-limiter.js';
import type { GatewayMetrics } from '../observe/gateway-metrics.js';
import type { ImageLogEvent } from '../observe/image-log-event.js';
import type { UsageRecorder } from '../observe/usage-recorder.js';
import type { HostedResults } from '../store/hosted-results.js';
import type { Snapshot } from '../store/types.js';
import type { UpstreamClient } from '../upstream/types.js';
import type { DbQuerier } from '../store/db.js';
import type { JobQueue } from './job-queue.js';

/** Where the data plane reads control data: the in-memory snapshot, reloaded in the background. */
export interface SnapshotSource {
  /** The current snapshot; null before the first load. */
  current(): Snapshot | null;
  /** True when a snapshot is loaded and the database answered recently. */
  isReady(): boolean;
}

/** Async jobs in this process: the scheduler, where job rows live, and this instance's id. */
export interface JobRuntime {
  scheduler: JobQueue;
  db: DbQuerier;
  instanceId: string;
}

/** Everything the public image API needs, injected so tests can build the app around real or fake parts. */
export interface GatewayDeps {
  config: Config;
  snapshots: SnapshotSource;
  keyLimiter: KeyLimiter;
  accountLimiter: AccountLimiter;
  /**
   * Requests waiting for an account slot (ADMISSION_WAIT_MS), fairly across keys. It must be told
   * every release of `accountLimiter` (`notify`), or waiters sleep until their time is up.
   */
  admission: AdmissionQueue;
  /**
   * With REDIS_URL: key places, account slots and account health shared by every instance (one
   * script call per take), falling back to `keyLimiter`, `accountLimiter` and `health` with split
   * caps while Redis is out of reach. Absent = those three alone, as without Redis.
   */
  coordination?: CoordinatedSlots;
  /** Request-body bytes being read at once, across every image route (MAX_BODY_BYTES_IN_FLIGHT). */
  bodyBudget: BodyBudget;
  upstream: UpstreamClient;
  metrics: GatewayMetrics;
  usage: UsageRecorder;
  /** What this process's admitted, unrecorded requests are expected to spend, per key (budget reservations). */
  budgets: BudgetLedger;
  requestLog: { write(event: ImageLogEvent): void };
  now: () => number;
  /** The request log's `prompt_hash` (an HMAC under a per-installation key; see observe/prompt-hash.ts). */
  hashPrompt: (prompt: string) => string;
  /** Directory for encrypted multipart spool files (default: the OS temp dir). */
  spoolDir?: string;
  /** Account cooldowns (429/5xx/401); absent = no account is ever paused. */
  health?: AccountHealth;
  /** Told when the upstream answered 401 for an account (the control plane refreshes it). Must not throw. */
  onAuthFailure?: (accountId: string) => void;
  /** Hosted result URLs: stored by `response_format: url` in RESULT_URL_MODE=hosted, served at `GET /v1/images/results/{token}`; absent = every such URL is 404. */
  hostedResults?: HostedResults;
  /** Serves `GET /status` (behind the admin token) when given; absent = no status endpoint. */
  status?: { source: DataPlaneStatusSource; adminToken: string };
  /** Async jobs (`Prefer: respond-async`, `/v1/images/jobs/{id}`); absent = the preference is not applied. */
  jobs?: JobRuntime;
}
