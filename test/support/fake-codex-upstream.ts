/**
 * THE stand-in for the paid ChatGPT Codex backend, used by end-to-end tests and the
 * benchmark. Real HTTP on 127.0.0.1 (ephemeral port).
 *
 * Serves `POST /backend-api/codex/images/generations`, `/images/edits` and `/responses`; anything
 * else is 404 `{"detail":"Not Found"}` (405 for another method on a served path).
 *
 * Checks, like the real one (see fake-codex/wire-checks.ts), answering 401/403/400 on a violation:
 * - `Authorization: Bearer <JWT>`: missing → 401; not a JWT → 401 `invalid_jwt`; `exp` past → 401
 *   `token_expired`; no `chatgpt_account_id` claim → 401. The account is that claim.
 * - `ChatGPT-Account-ID`, when sent, equals the claim (else 401 `account_mismatch`).
 * - `User-Agent: codex_cli_rs/…` and `originator: codex_cli_rs` (else 403 `error code: 1010`, as
 *   Cloudflare does); turn off with `requireCodexIdentity: false`.
 * - `Content-Type: application/json`, a JSON object with `prompt` and `model`, `n` 1..10; edits need
 *   `images: [{image_url}]` (a plain string → 400 `{"detail":"images[0]: expected object"}`).
 * - `/responses` (fake-codex/responses-body.ts): `model`, `instructions` (string),
 *   `input` a list, `stream: true`, `store: false`; no `max_output_tokens`, no tool `n`,
 *   `partial_images` 0..3, a forced `tool_choice` only with the tool in `tools`.
 *
 * Records every request (`requests`): lower-cased headers with `authorization` reduced to
 * `account:<id>`, the token's hash, body fields except image data (images are kind + mime + bytes);
 * for `/responses` also without prompt text (its sha256), with the tool options apart (`body.tool`),
 * and the stream sent (`stream`: event types, how it ended). Counts in-flight requests per account
 * (`concurrency`), streams included until they end.
 *
 * Also serves the OAuth token endpoint (`POST /oauth/token`, path configurable; see
 * fake-codex/oauth-endpoint.ts: rotating single-use refresh tokens, scripted failures, per-account
 * counts) and can revoke an access token (`revokeAccessToken`: further use → 401 `token_revoked`).
 *
 * Can be told (setBehavior, per account id or '*'; one behaviour is sticky, a list is queued one per
 * request): success (delay, image size, n, usage), raw status/body, rateLimited, unauthorized,
 * forbidden, serverError, detailError, badRequest, reset, hang, slowHeaders, stallBody — see
 * fake-codex/behaviors.ts. Requests that fail the checks do not consume a behaviour.
 *
 * On `/responses`, success is an SSE stream of the Responses image events (fake-codex/responses-stream.ts):
 * one image, `partial_images` partial events, the final `image_generation_call` item with `result`,
 * `response.completed` with `output: []` and `tool_usage.image_gen`; timing by `delayMs`,
 * `firstEventDelayMs`, `eventIntervalMs`. Stream failures: responseFailed, streamError, streamCut,
 * stallStream, textOnly (a request without the tool always gets the text answer). The other
 * behaviours answer as on the image endpoints (stallBody = stallStream).
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BehaviorBook, fakeBehaviors, type Behavior, type SuccessOptions } from './fake-codex/behaviors.js';
import { ConcurrencyCounter, type ConcurrencyView } from './fake-codex/concurrency.js';
import { FakeOAuthEndpoint } from './fake-codex/oauth-endpoint.js';
import { buildSuccessParts, waitUnlessClosed, writeSuccess } from './fake-codex/image-body.js';
import { readBody, recordHeaders, sendFailure } from './fake-codex/http-io.js';
import { checkResponsesBody } from './fake-codex/responses-body.js';
import { playStream, type RecordedStream } from './fake-codex/responses-play.js';
import {
  checkAuth,
  checkBody,
  checkIdentity,
  readBearerToken,
  type FakeEndpoint,
  type RecordedBody,
  type TokenInfo,
  type WireFailure,
} from './fake-codex/wire-checks.js';

export {
  fakeBehaviors,
  type Behavior,
  type StreamErrorOptions,
  type StreamFailureOptions,
  type StreamPoint,
  type SuccessOptions,
} from './fake-codex/behaviors.js';
export type { RecordedBody, RecordedImage } from './fake-codex/wire-checks.js';
export type { RecordedStream } from './fake-codex/responses-play.js';
export type { FakeOAuthEndpoint, OAuthCall, OAuthFailure } from './fake-codex/oauth-endpoint.js';

/** The path prefix of the Codex backend. */
export const FAKE_CODEX_BASE_PATH = '/backend-api/codex';

const ROUTES = {
  [`${FAKE_CODEX_BASE_PATH}/images/generations`]: 'generations',
  [`${FAKE_CODEX_BASE_PATH}/images/edits`]: 'edits',
  [`${FAKE_CODEX_BASE_PATH}/responses`]: 'responses',
} as const satisfies Record<string, FakeEndpoint>;

export interface FakeCodexUpstreamOptions {
  /** What a request with no behaviour set gets. Default: `success()` with its defaults. */
  defaultSuccess?: SuccessOptions;
  /** Size of each body write. Default 64 KiB. */
  chunkBytes?: number;
  /** Send success bodies chunked (no Content-Length). Default false. */
  chunked?: boolean;
  /** Answer 403 (Cloudflare 1010) unless UA/originator look like Codex CLI. Default true. */
  requireCodexIdentity?: boolean;
  /** Largest request body read; past it 413. Default 128 MiB. */
  maxRequestBytes?: number;
  /** Clock for token expiry and `created` (ms). Default Date.now. */
  now?: () => number;
  /** Path of the OAuth token endpoint. Default `/oauth/token`. */
  oauthPath?: string;
  /** Lifetime of access tokens the OAuth endpoint issues. Default 3600 s. */
  accessTokenTtlSeconds?: number;
  /** How long an idle kept-alive connection stays open (also the `Keep-Alive` hint clients follow). Default Node's 5 s. */
  keepAliveTimeoutMs?: number;
}

/** One request as the fake saw it. */
export interface RecordedRequest {
  seq: number;
  method: string;
  path: string;
  endpoint: FakeEndpoint;
  accountId: string | null;
  tokenHash: string | null;
  headers: Record<string, string>;
  bodyBytes: number;
  /** SHA-256 (hex) of the raw request body: proves bytes arrived unchanged without keeping them. */
  bodySha256: string;
  body: RecordedBody | null;
  /** Status answered; null while pending, or for reset/hang. */
  status: number | null;
  receivedAtMs: number;
  /** `/responses` answered with a stream: the SSE event types written and how it ended; null otherwise. */
  stream: RecordedStream | null;
}

export interface FakeCodexUpstream {
  /** e.g. `http://127.0.0.1:PORT/backend-api/codex`: the gateway's upstream base. */
  baseUrl: string;
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** Every request so far (cleared by reset(); the array object stays the same). */
  requests: RecordedRequest[];
  concurrency: ConcurrencyView;
  /** TCP connections accepted so far (keep-alive reuse shows as fewer connections than requests). */
  readonly connections: number;
  /** `http://127.0.0.1:PORT/oauth/token` (or the configured path): CODEX_OAUTH_TOKEN_URL for tests. */
  oauthUrl: string;
  /** The token endpoint's calls, counts and failure controls. */
  oauth: FakeOAuthEndpoint;
  /** From now on, image requests bearing this access token get 401 `token_revoked`. */
  revokeAccessToken(accessToken: string): void;
  /** One behaviour: sticky for the account (or '*'); a list: queued, one per request, then the default. */
  setBehavior(accountId: string, behavior: Behavior | Behavior[]): void;
  /** Clears requests, behaviours and maxima, and drops every open connection. */
  reset(): void;
  close(): Promise<void>;
}

const MiB = 1024 * 1024;

type ResolvedOptions = Required<Omit<FakeCodexUpstreamOptions, 'defaultSuccess'>> & { defaultSuccess: SuccessOptions };

/** Everything one fake instance keeps between requests. */
interface Runtime {
  opts: ResolvedOptions;
  requests: RecordedRequest[];
  book: BehaviorBook;
  counter: ConcurrencyCounter;
  /** Responses not finished yet (dropped by reset()). */
  open: Set<ServerResponse>;
  seq: number;
  oauth: FakeOAuthEndpoint;
  /** Hashes (TokenInfo.tokenHash) of revoked access tokens. */
  revoked: Set<string>;
}

/** Plays one behaviour on a checked request; `/responses` streams success and stream behaviours (fake-codex/responses-play.ts). */
async function runBehavior(behavior: Behavior, res: ServerResponse, record: RecordedRequest, rt: Runtime): Promise<void> {
  const streamed = behavior.kind !== 'raw' && behavior.kind !== 'reset' && behavior.kind !== 'hang' && behavior.kind !== 'slowHeaders';
  if (record.endpoint === 'responses' && streamed) {
    const ctx = { res, record, defaultSuccess: rt.opts.defaultSuccess, chunkBytes: rt.opts.chunkBytes, nowMs: rt.opts.now() };
    return playStream(behavior, ctx);
  }
  switch (behavior.kind) {
    case 'responseFailed':
    case 'streamError':
    case 'streamCut':
    case 'stallStream':
    case 'textOnly':
      record.status = 500;
      sendFailure(res, { status: 500, body: { detail: `fake-codex: behaviour ${behavior.kind} applies to /responses only` } });
      return;
    case 'success':
    case 'stallBody': {
      const options = behavior.kind === 'success' ? behavior.options : rt.opts.defaultSuccess;
      if (behavior.kind === 'success' && options.delayMs && !(await waitUnlessClosed(res, options.delayMs))) return;
      const requested = record.body?.fields.n;
      const n = options.n ?? (Number.isInteger(requested) ? (requested as number) : 1);
      record.status = 200;
      const stallMs = behavior.kind === 'stallBody' ? behavior.stallMs : undefined;
      await writeSuccess(res, buildSuccessParts(options, n, rt.opts.now()), {
        chunkBytes: rt.opts.chunkBytes,
        chunked: options.chunked ?? rt.opts.chunked,
        ...(stallMs === undefined ? {} : { stallMs }),
      });
      return;
    }
    case 'raw':
      record.status = behavior.status;
      sendFailure(res, { status: behavior.status, body: behavior.body }, behavior.headers);
      return;
    case 'reset':
      res.socket?.destroy();
      return;
    case 'hang':
      return;
    case 'slowHeaders':
      if (await waitUnlessClosed(res, behavior.delayMs)) await runBehavior(behavior.then, res, record, rt);
      return;
    default:
      behavior satisfies never;
  }
}

/** Applies the wire checks (body first, so the record holds its summary even when auth fails). */
function checkRequest(
  rt: Runtime,
  req: IncomingMessage,
  { record, raw, token }: { record: RecordedRequest; raw: Buffer | null; token: TokenInfo | null },
): WireFailure | null {
  if (raw === null) return { status: 413, body: { detail: 'Request body too large' } };
  const checked =
    record.endpoint === 'responses' ? checkResponsesBody(req.headers['content-type'], raw) : checkBody(record.endpoint, req.headers['content-type'], raw);
  record.body = checked.body;
  if (token && rt.revoked.has(token.tokenHash)) {
    return {
      status: 401,
      body: { error: { message: 'Your authentication token has been invalidated.', type: 'invalid_request_error', param: null, code: 'token_revoked' } },
    };
  }
  return checkAuth(req.headers, token, rt.opts.now()) ?? (rt.opts.requireCodexIdentity ? checkIdentity(req.headers) : null) ?? checked.failure;
}

/** Routes, counts, records and checks one request, then plays its behaviour. */
async function handleRequest(rt: Runtime, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  if (path === rt.opts.oauthPath && req.method === 'POST') return rt.oauth.handle(req, res);
  const endpoint = Object.hasOwn(ROUTES, path) ? ROUTES[path as keyof typeof ROUTES] : null;
  if (endpoint === null) return sendFailure(res, { status: 404, body: { detail: 'Not Found' } });
  if (req.method !== 'POST') return sendFailure(res, { status: 405, body: { detail: 'Method Not Allowed' } });
  const token = readBearerToken(req.headers);
  const accountId = token?.accountId ?? null;
  res.once('close', rt.counter.begin(accountId));
  rt.open.add(res);
  res.once('close', () => rt.open.delete(res));
  const raw = await readBody(req, rt.opts.maxRequestBytes);
  rt.seq += 1;
  const record: RecordedRequest = {
    seq: rt.seq,
    method: req.method,
    path,
    endpoint,
    accountId,
    tokenHash: token?.tokenHash ?? null,
    headers: recordHeaders(req, accountId),
    bodyBytes: raw?.length ?? 0,
    bodySha256: createHash('sha256')
      .update(raw ?? Buffer.alloc(0))
      .digest('hex'),
    body: null,
    status: null,
    receivedAtMs: rt.opts.now(),
    stream: null,
  };
  rt.requests.push(record);
  const failure = checkRequest(rt, req, { record, raw, token });
  if (failure) {
    record.status = failure.status;
    return sendFailure(res, failure);
  }
  await runBehavior(rt.book.next(accountId, fakeBehaviors.success(rt.opts.defaultSuccess)), res, record, rt);
}

function resolveOptions(options: FakeCodexUpstreamOptions): ResolvedOptions {
  return {
    defaultSuccess: options.defaultSuccess ?? {},
    chunkBytes: options.chunkBytes ?? 64 * 1024,
    chunked: options.chunked ?? false,
    requireCodexIdentity: options.requireCodexIdentity ?? true,
    maxRequestBytes: options.maxRequestBytes ?? 128 * MiB,
    now: options.now ?? Date.now,
    oauthPath: options.oauthPath ?? '/oauth/token',
    accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? 3600,
    keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? 5_000,
  };
}

/** Starts the fake on 127.0.0.1 with an ephemeral port. */
export async function startFakeCodexUpstream(options: FakeCodexUpstreamOptions = {}): Promise<FakeCodexUpstream> {
  const opts = resolveOptions(options);
  const rt: Runtime = {
    oauth: new FakeOAuthEndpoint({ accessTokenTtlSeconds: opts.accessTokenTtlSeconds, delayMs: 0, now: opts.now }),
    revoked: new Set(),
    opts,
    requests: [],
    book: new BehaviorBook(),
    counter: new ConcurrencyCounter(),
    open: new Set(),
    seq: 0,
  };
  const server = createServer((req, res) => {
    handleRequest(rt, req, res).catch(() => res.socket?.destroy());
  });
  server.keepAliveTimeout = opts.keepAliveTimeoutMs;
  let connections = 0;
  server.on('connection', () => {
    connections += 1;
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    baseUrl: `${url}${FAKE_CODEX_BASE_PATH}`,
    requests: rt.requests,
    concurrency: rt.counter,
    get connections() {
      return connections;
    },
    oauthUrl: `${url}${opts.oauthPath}`,
    oauth: rt.oauth,
    revokeAccessToken: (accessToken) => rt.revoked.add(createHash('sha256').update(accessToken).digest('hex').slice(0, 16)),
    setBehavior: (accountId, behavior) => rt.book.set(accountId, behavior),
    reset() {
      rt.requests.length = 0;
      rt.book.clear();
      rt.oauth.reset();
      rt.revoked.clear();
      for (const res of rt.open) res.socket?.destroy();
      rt.counter.clearMaxima();
    },
    async close() {
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}
