/**
 * The fake's OAuth token endpoint: the refresh grant, with rotating single-use
 * refresh tokens. Any refresh token it has not seen is accepted once (so imported test accounts
 * work without registration); a spent one gets 400 `refresh_token_reused`. The account is read from
 * the token's `rt_<account>_<suffix>` shape. New access/id tokens carry the account's claims and a
 * fresh `exp` (now + accessTokenTtlSeconds).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { makeCodexJwt } from '../jwt.js';

/** How the endpoint answers instead of refreshing: a permanent code, a 401, a 5xx, or a dropped connection. */
export type OAuthFailure =
  | { kind: 'permanent'; code: 'refresh_token_expired' | 'refresh_token_reused' | 'refresh_token_invalidated' }
  | { kind: 'unauthorized' }
  | { kind: 'transient'; status: number }
  | { kind: 'reset' };

/** One refresh call as the fake saw it (never the token itself). */
export interface OAuthCall {
  accountId: string | null;
  status: number;
  clientId: unknown;
  grantType: unknown;
}

export interface OAuthEndpointOptions {
  /** Lifetime of issued access tokens. Default 3600 s. */
  accessTokenTtlSeconds: number;
  /** Wait before answering (lets tests overlap two refreshers). Default 0. */
  delayMs: number;
  now: () => number;
}

/** State and controls of the token endpoint. */
export class FakeOAuthEndpoint {
  /** Every call, in order. */
  readonly calls: OAuthCall[] = [];
  private readonly spent = new Set<string>();
  private readonly failures = new Map<string, OAuthFailure | OAuthFailure[]>();
  private issued = 0;

  constructor(private readonly opts: OAuthEndpointOptions) {}

  /** Successful refreshes of one account. */
  refreshCount(accountId: string): number {
    return this.calls.filter((c) => c.accountId === accountId && c.status === 200).length;
  }

  /** One failure: sticky for the account (or '*'); a list: one per call, then success; null clears. */
  setFailure(accountId: string, failure: OAuthFailure | OAuthFailure[] | null): void {
    if (failure === null) this.failures.delete(accountId);
    else this.failures.set(accountId, Array.isArray(failure) ? [...failure] : failure);
  }

  /** Sets the answer delay (ms). */
  setDelay(delayMs: number): void {
    this.opts.delayMs = delayMs;
  }

  reset(): void {
    this.calls.length = 0;
    this.failures.clear();
  }

  private nextFailure(accountId: string | null): OAuthFailure | null {
    for (const key of [accountId ?? '', '*']) {
      const entry = this.failures.get(key);
      if (entry === undefined) continue;
      if (!Array.isArray(entry)) return entry;
      const next = entry.shift() ?? null;
      if (entry.length === 0) this.failures.delete(key);
      return next;
    }
    return null;
  }

  /** Answers one POST to the token path. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    } catch {
      // Answered as a bad request below.
    }
    const token = typeof body.refresh_token === 'string' ? body.refresh_token : null;
    const accountId = token ? (/^rt_(.+)_[^_]+$/.exec(token)?.[1] ?? null) : null;
    if (this.opts.delayMs > 0) await new Promise((r) => setTimeout(r, this.opts.delayMs));
    const call: OAuthCall = { accountId, status: 0, clientId: body.client_id, grantType: body.grant_type };
    this.calls.push(call);
    const answer = (status: number, json: unknown) => {
      call.status = status;
      const text = JSON.stringify(json);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (!token || body.grant_type !== 'refresh_token') return answer(400, { error: { code: 'invalid_request', message: 'refresh_token grant required' } });
    const failure = this.nextFailure(accountId);
    if (failure?.kind === 'reset') {
      call.status = -1;
      res.socket?.destroy();
      return;
    }
    if (failure?.kind === 'permanent') return answer(400, { error: { code: failure.code, message: 'refresh token refused' } });
    if (failure?.kind === 'unauthorized') return answer(401, { error: { code: 'invalid_grant', message: 'unauthorized' } });
    if (failure?.kind === 'transient') return answer(failure.status, { error: { code: 'server_error', message: 'try again' } });
    if (this.spent.has(token)) return answer(400, { error: { code: 'refresh_token_reused', message: 'refresh token already used' } });
    this.spent.add(token);
    answer(200, this.issueTokens(accountId));
  }

  private issueTokens(accountId: string | null): Record<string, string> {
    this.issued += 1;
    const expSeconds = Math.floor(this.opts.now() / 1000) + this.opts.accessTokenTtlSeconds;
    const jwt = { accountId, expSeconds, extra: { jti: `fake-${this.issued}` } };
    return {
      access_token: makeCodexJwt(jwt),
      id_token: makeCodexJwt(jwt),
      refresh_token: `rt_${accountId ?? 'user'}_${this.issued.toString(16)}x${Math.random().toString(16).slice(2, 10)}`,
    };
  }
}
