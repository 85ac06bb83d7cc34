import { createCapability, createCapabilitySealer, openCapability, openWithCapability, sealWithCapability } from './capability-seal.js';
import type { DbQuerier } from './db.js';
import { deleteExpiredHostedResults, findHostedResult, insertHostedResult, type HostedResultType } from './hosted-result-repo.js';

/** What every hosted result token starts with (then 43 base64url characters). */
export const HOSTED_RESULT_TOKEN_PREFIX = 'imgres_';

/** One image on its way into the store: its token exists before its bytes do. */
export interface HostedResultUpload {
  /** The capability the client gets inside the URL; never stored. */
  readonly token: string;
  /** Seals one piece of the image's bytes (they are not kept in clear). */
  write(bytes: Buffer): void;
  /** Stores the sealed image; resolves once the row is committed. Call once, after the last `write`. */
  commit(contentType: HostedResultType): Promise<void>;
}

/** A stored result, opened with its token. */
export interface OpenedHostedResult {
  contentType: HostedResultType;
  bytes: Buffer;
  /** ms since the epoch. */
  expiresAt: number;
}

export interface HostedResultsOptions {
  db: DbQuerier;
  /** How long a stored result is served, from its commit (RESULT_URL_TTL_MS). */
  ttlMs: number;
  now: () => number;
}

/**
 * Images behind hosted result URLs, sealed under a key only the URL holds (capability-seal.ts): the
 * database keeps the token's hash and the ciphertext, so neither a database copy nor a log without
 * the URL can open an image. Any data plane on the same database serves any result.
 */
export class HostedResults {
  constructor(private readonly opts: HostedResultsOptions) {}

  /** Starts a result whose bytes arrive in pieces. */
  begin(): HostedResultUpload {
    const capability = createCapability(HOSTED_RESULT_TOKEN_PREFIX);
    const sealer = createCapabilitySealer(capability);
    return {
      token: capability.token,
      write: (bytes) => sealer.update(bytes),
      commit: async (contentType) => this.insert(capability.idHash, contentType, sealer.finish()),
    };
  }

  /** Stores an image held whole; returns its token once the row is committed. */
  async store(bytes: Buffer, contentType: HostedResultType): Promise<string> {
    const capability = createCapability(HOSTED_RESULT_TOKEN_PREFIX);
    await this.insert(capability.idHash, contentType, sealWithCapability(capability, bytes));
    return capability.token;
  }

  /** The image behind a token; null when the token is malformed, unknown, expired or does not open the row. */
  async open(token: string): Promise<OpenedHostedResult | null> {
    const capability = openCapability(HOSTED_RESULT_TOKEN_PREFIX, token);
    if (!capability) return null;
    const row = await findHostedResult(this.opts.db, capability.idHash, this.opts.now());
    if (!row) return null;
    try {
      return { contentType: row.contentType, bytes: openWithCapability(capability, row.sealed), expiresAt: row.expiresAt };
    } catch {
      return null; // a row changed behind our back is as good as gone
    }
  }

  /** Deletes expired results; returns how many. */
  sweep(): Promise<number> {
    return deleteExpiredHostedResults(this.opts.db, this.opts.now());
  }

  private async insert(idHash: string, contentType: HostedResultType, sealed: Buffer): Promise<void> {
    const createdAt = this.opts.now();
    await insertHostedResult(this.opts.db, { idHash, contentType, sealed, createdAt, expiresAt: createdAt + this.opts.ttlMs });
  }
}
