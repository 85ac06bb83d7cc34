import { BudgetLedger } from '../../src/limits/key-budget.js';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config/config.js';
import type { GatewayDeps } from '../../src/http/gateway-deps.js';
import { buildGatewayApp } from '../../src/http/gateway-app.js';
import { AccountLimiter } from '../../src/limits/account-limiter.js';
import { AdmissionQueue } from '../../src/limits/admission-queue.js';
import { BodyBudget } from '../../src/limits/body-budget.js';
import { KeyLimiter } from '../../src/limits/key-limiter.js';
import { createGatewayMetrics } from '../../src/observe/gateway-metrics.js';
import { createPromptHasher } from '../../src/observe/prompt-hash.js';
import { createUsageRecorder } from '../../src/observe/usage-recorder.js';
import type { Snapshot } from '../../src/store/types.js';

/**
 * The data-plane app for `inject` tests, around a snapshot the test controls: real limiters and
 * admission queue, metrics and usage recorder (writing nowhere), an upstream that must not be called unless
 * `overrides.upstream` says otherwise. `env` feeds loadConfig.
 */
export async function buildTestGatewayApp(
  snapshot: () => Snapshot,
  opts: { env?: Record<string, string>; overrides?: Partial<GatewayDeps> } = {},
): Promise<FastifyInstance> {
  const config = loadConfig(opts.env ?? {});
  const admission = opts.overrides?.admission ?? new AdmissionQueue({ maxQueuedPerKey: config.admissionQueueMaxPerKey });
  const app = await buildGatewayApp({
    config,
    snapshots: { current: snapshot, isReady: () => true },
    keyLimiter: new KeyLimiter(),
    budgets: new BudgetLedger(),
    // A test that brings its own limiter wires its releases to its own queue.
    accountLimiter: new AccountLimiter(Date.now, undefined, (accountId) => admission.notify([accountId])),
    admission,
    bodyBudget: new BodyBudget(config.maxBodyBytesInFlight),
    upstream: { send: () => Promise.reject(new Error('not used')), close: async () => undefined },
    metrics: createGatewayMetrics(),
    usage: createUsageRecorder({ apply: async () => undefined, flushIntervalMs: 60_000 }),
    requestLog: { write: () => undefined },
    now: Date.now,
    hashPrompt: createPromptHasher(Buffer.alloc(32, 7)),
    ...opts.overrides,
  });
  return app;
}
