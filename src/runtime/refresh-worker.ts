import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config/config.js';
import { createTokenRefresher, type TokenRefresher } from '../control/token-refresher.js';
import type { CredentialCipher } from '../store/cipher-port.js';
import type { Db } from '../store/db.js';
import { createCodexOAuthClient } from '../upstream/codex-oauth-client.js';
import { createDispatcherPool } from '../upstream/dispatcher-pool.js';

/** A running token refresher and how to stop it (timer, listener, its own connection pool). */
export interface RefreshWorker {
  refresher: TokenRefresher;
  close(): Promise<void>;
}

/**
 * Starts the control plane's token refresher (`start` and `control`): its own dispatcher pool with
 * the upstream connect timeout, so a refresh leaves through the account's proxy like its image
 * requests do, and the OAuth endpoint from CODEX_OAUTH_TOKEN_URL.
 */
export async function startRefreshWorker(config: Config, db: Db, cipher: CredentialCipher, logger: FastifyBaseLogger): Promise<RefreshWorker> {
  const pool = createDispatcherPool({
    connectTimeoutMs: config.upstreamConnectTimeoutMs,
    headersTimeoutMs: Math.max(config.upstreamConnectTimeoutMs, 30_000),
    bodyTimeoutMs: Math.max(config.upstreamConnectTimeoutMs, 30_000),
  });
  const refresher = createTokenRefresher({
    db,
    cipher,
    oauth: createCodexOAuthClient({ tokenUrl: config.codexOauthTokenUrl, pool }),
    now: Date.now,
    marginMs: config.tokenRefreshMarginMs,
    scanMs: config.tokenRefreshScanMs,
    log: { info: (obj, msg) => logger.info(obj, msg), warn: (obj, msg) => logger.warn(obj, msg), error: (obj, msg) => logger.error(obj, msg) },
  });
  await refresher.start();
  return {
    refresher,
    async close() {
      await refresher.close();
      await pool.close();
    },
  };
}
