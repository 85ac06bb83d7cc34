import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import pino from 'pino';
import { loadConfig } from '../../src/config/config.js';
import { createAdminClient } from '../../src/control/admin-client.js';
import type { AccountView, ControlApi, KeyCreateInput } from '../../src/control/control-api.js';
import type { ImageLogEvent } from '../../src/observe/image-log-event.js';
import { REDACT_PATHS } from '../../src/observe/app-logger.js';
import { runStart, type RunningProcess } from '../../src/runtime/processes.js';
import { seedEmbeddedDatabase } from './pglite-template.js';
import { startFakeCodexUpstream, type FakeCodexUpstream } from './fake-codex-upstream.js';
import { waitFor } from './wait-for.js';
import { makeCodexAuthJson, type CodexAuthJsonOptions } from './jwt.js';

/** A real `start` instance (embedded PGlite, real HTTP on loopback) in front of the fake Codex upstream. */
export interface GatewayHarness {
  gatewayUrl: string;
  adminUrl: string;
  dataDir: string;
  logDir: string;
  appLogPath: string;
  /** The admin API, through the same client the CLI uses. */
  admin: ControlApi;
  fake: FakeCodexUpstream;
  /** Creates a key (image on, unlimited by default) and returns its secret. */
  createKey(input?: Partial<KeyCreateInput>): Promise<{ id: string; secret: string }>;
  /** Imports an account whose tokens carry `chatgpt_account_id = accountId`. */
  importAccount(accountId: string, opts?: { name?: string; imageConcurrency?: number; auth?: Partial<CodexAuthJsonOptions> }): Promise<AccountView>;
  /** The official OpenAI SDK pointed at the gateway (no retries, so tests see each answer). */
  sdk(secret: string, opts?: { maxRetries?: number }): OpenAI;
  /** Request-log lines on disk now. */
  readLogEvents(): Promise<ImageLogEvent[]>;
  /** Waits until the request log holds lines matching `match` for `requestId` (at least `count`). */
  waitForLogEvents(requestId: string, count?: number): Promise<ImageLogEvent[]>;
  /** Waits until the app log has been written and returns all of it. */
  readAppLog(): Promise<string>;
  /**
   * Stops the process as a SIGTERM would (usage flushed) and starts it again on the same data
   * directory: new ports, so `gatewayUrl`, `adminUrl` and `admin` change; console sessions end.
   */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  /** Extra environment settings (CONFIG_FIELDS env names). */
  env?: Record<string, string>;
  fake?: FakeCodexUpstream;
}

/**
 * Starts the fake upstream (unless given) and a gateway `start` instance on ephemeral ports, on a
 * data directory whose embedded database is already migrated (copied from the template: a first
 * start's initdb costs seconds and is tested where it is the subject, by spawning `start`).
 */
export async function startGatewayHarness(opts: HarnessOptions = {}): Promise<GatewayHarness> {
  const fake = opts.fake ?? (await startFakeCodexUpstream());
  const dataDir = await mkdtemp(join(tmpdir(), 'cig-e2e-'));
  await seedEmbeddedDatabase(dataDir);
  const logDir = join(dataDir, 'logs');
  const appLogPath = join(dataDir, 'app.log');
  const config = loadConfig({
    CODEX_IMAGE_GATEWAY_DATA_DIR: dataDir,
    GATEWAY_LISTEN: '127.0.0.1:0',
    ADMIN_LISTEN: '127.0.0.1:0',
    CODEX_UPSTREAM_BASE_URL: fake.baseUrl,
    CODEX_OAUTH_TOKEN_URL: fake.oauthUrl,
    USAGE_FLUSH_MS: '50',
    LOG_LEVEL: 'debug',
    ...opts.env,
  });
  const destination = pino.destination({ dest: appLogPath, sync: true });
  const logger = pino({ level: 'debug', redact: { paths: [...REDACT_PATHS], censor: '[redacted]' } }, destination);
  let running: RunningProcess = await runStart(config, logger);
  const adminToken = (await readFile(join(dataDir, 'admin-token'), 'utf8')).trim();
  let admin = createAdminClient({ baseUrl: running.adminUrl!, token: adminToken });
  let gatewayUrl = running.gatewayUrl!;
  const ownsFake = !opts.fake;
  const readLogEvents = async (): Promise<ImageLogEvent[]> => {
    const files = (await readdir(logDir)).filter((f) => f.endsWith('.jsonl')).sort();
    const events: ImageLogEvent[] = [];
    for (const f of files) {
      const text = await readFile(join(logDir, f), 'utf8');
      for (const line of text.split('\n')) if (line.trim()) events.push(JSON.parse(line) as ImageLogEvent);
    }
    return events.sort((a, b) => a.ts - b.ts);
  };
  return {
    get gatewayUrl() {
      return gatewayUrl;
    },
    get adminUrl() {
      return running.adminUrl!;
    },
    dataDir,
    logDir,
    appLogPath,
    get admin() {
      return admin;
    },
    fake,
    async createKey(input = {}) {
      const created = await admin.keys.create({ name: `key-${Math.random().toString(36).slice(2, 8)}`, ...input });
      return { id: created.key.id, secret: created.secret };
    },
    importAccount(accountId, o = {}) {
      const auth = makeCodexAuthJson({ accountId, ...o.auth });
      return admin.accounts.import({ auth, name: o.name ?? accountId, imageConcurrency: o.imageConcurrency });
    },
    sdk(secret, o = {}) {
      return new OpenAI({ apiKey: secret, baseURL: `${gatewayUrl}/v1`, maxRetries: o.maxRetries ?? 0, timeout: 60_000 });
    },
    readLogEvents,
    waitForLogEvents(requestId, count = 1) {
      return waitFor(`${count} log line(s) for ${requestId}`, async () => {
        const lines = (await readLogEvents()).filter((e) => e.request_id === requestId);
        return lines.length >= count ? lines : null;
      });
    },
    async readAppLog() {
      destination.flushSync();
      return readFile(appLogPath, 'utf8');
    },
    async restart() {
      await running.stop();
      running = await runStart(config, logger);
      admin = createAdminClient({ baseUrl: running.adminUrl!, token: adminToken });
      gatewayUrl = running.gatewayUrl!;
    },
    async stop() {
      await running.stop();
      if (ownsFake) await fake.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
