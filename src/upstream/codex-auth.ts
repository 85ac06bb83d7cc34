import { GatewayError } from '../errors/codes.js';
import { isJsonObject } from '../guards/is-json-object.js';
import { decodeJwtPayload, readJwtExpiryMs } from './jwt.js';

/** What the gateway reads from a Codex auth JSON. Holds tokens: never log it. */
export interface ParsedCodexAuth {
  /** The auth JSON as an object: what is sealed and stored, so refresh tokens survive for a later refresh. */
  document: Record<string, unknown>;
  accessToken: string;
  refreshToken: string | null;
  idToken: string | null;
  /** For the `ChatGPT-Account-ID` header. */
  chatgptAccountId: string | null;
  fedramp: boolean;
  email: string | null;
  /** `chatgpt_plan_type` claim (`free`, `plus`, `pro`, `team`, …). */
  planType: string | null;
  /** Access-token `exp` in ms since epoch; null = unknown. */
  accessTokenExpiresAt: number | null;
  /** `last_refresh` (ISO time in auth.json) in ms since epoch; null when absent or unreadable. */
  lastRefreshAt: number | null;
}

/** Decrypted credentials of one account, held only in memory: what an upstream request needs. */
export interface AccountCredentials {
  accessToken: string;
  refreshToken: string | null;
  idToken: string | null;
  /** ChatGPT account id for the `ChatGPT-Account-ID` header; null when unknown. */
  chatgptAccountId: string | null;
  fedramp: boolean;
}

/** Claim namespaces in OpenAI's tokens. */
const AUTH_CLAIM = 'https://api.openai.com/auth';
const PROFILE_CLAIM = 'https://api.openai.com/profile';

/** Where each value may sit in the JSON, first hit wins (paths of property names). */
const FIELD_PATHS = {
  accessToken: [['tokens', 'access_token'], ['tokens', 'accessToken'], ['access_token'], ['accessToken']],
  refreshToken: [['tokens', 'refresh_token'], ['tokens', 'refreshToken'], ['refresh_token'], ['refreshToken']],
  idToken: [['tokens', 'id_token'], ['tokens', 'idToken'], ['id_token'], ['idToken']],
  accountId: [
    ['tokens', 'account_id'],
    ['tokens', 'accountId'],
    ['account_id'],
    ['accountId'],
    ['account', 'id'],
    ['account', 'account_id'],
    ['account', 'accountId'],
  ],
  fedramp: [['is_fedramp_account'], ['isFedrampAccount'], ['tokens', 'is_fedramp_account'], ['tokens', 'isFedrampAccount']],
} as const satisfies Record<string, ReadonlyArray<readonly string[]>>;

/**
 * Parses a Codex CLI `auth.json` (`tokens.{id_token,access_token,refresh_token,account_id}`) or any
 * JSON holding an access token flat (`access_token`/`accessToken`) or nested, given as text, bytes or
 * an already-parsed object. Missing facts are read from the tokens' claims.
 * @throws GatewayError('invalid_request', param 'auth'); messages never contain token text.
 */
export function parseCodexAuth(input: unknown): ParsedCodexAuth {
  const document = parseAuthDocument(input);
  const accessToken = firstString(document, FIELD_PATHS.accessToken);
  if (!accessToken) throw new GatewayError('invalid_request', 'auth JSON has no access token', 'auth');
  const idToken = firstString(document, FIELD_PATHS.idToken);
  const accessClaims = decodeJwtPayload(accessToken);
  const idClaims = decodeJwtPayload(idToken);
  const authClaims = [claimObject(accessClaims, AUTH_CLAIM), claimObject(idClaims, AUTH_CLAIM)];
  return {
    document,
    accessToken,
    refreshToken: firstString(document, FIELD_PATHS.refreshToken),
    idToken,
    chatgptAccountId: firstString(document, FIELD_PATHS.accountId) ?? firstClaimString(authClaims, 'chatgpt_account_id'),
    fedramp: firstBoolean(document, FIELD_PATHS.fedramp) ?? authClaims.some((c) => c?.chatgpt_account_is_fedramp === true),
    email: readEmail(idClaims) ?? readEmail(accessClaims),
    planType: firstClaimString(authClaims, 'chatgpt_plan_type'),
    accessTokenExpiresAt: readJwtExpiryMs(accessToken),
    lastRefreshAt: readTimestampMs(document.last_refresh),
  };
}

/**
 * Why an auth JSON cannot be imported (the `invalid_request` message, param `auth`). Stored and
 * refreshed documents are read with the lenient `parseCodexAuth`; only a new import must prove it is
 * a ChatGPT sign-in that can be kept signed in.
 */
export const AUTH_IMPORT_REFUSALS = {
  notJwt: 'auth JSON access token is not a JWT: import the auth.json that `codex login` writes (~/.codex/auth.json)',
  noAccountClaim: `auth JSON access token carries no ChatGPT account id (claim ${AUTH_CLAIM} chatgpt_account_id): not a ChatGPT sign-in token`,
  noRefreshToken: 'auth JSON has no refresh token: the account would stop working when its access token expires; import the whole auth.json',
} as const satisfies Record<string, string>;

/**
 * Parses an auth JSON for import: `parseCodexAuth`, then refuses a document whose access token is
 * not a JWT carrying the ChatGPT account claim, or that holds no refresh token.
 * @throws GatewayError('invalid_request', param 'auth') with a message from AUTH_IMPORT_REFUSALS (or
 * parseCodexAuth's); never token text.
 */
export function parseImportableCodexAuth(input: unknown): ParsedCodexAuth {
  const auth = parseCodexAuth(input);
  const claims = decodeJwtPayload(auth.accessToken);
  if (claims === null) throw new GatewayError('invalid_request', AUTH_IMPORT_REFUSALS.notJwt, 'auth');
  if (firstClaimString([claimObject(claims, AUTH_CLAIM)], 'chatgpt_account_id') === null) {
    throw new GatewayError('invalid_request', AUTH_IMPORT_REFUSALS.noAccountClaim, 'auth');
  }
  if (auth.refreshToken === null) throw new GatewayError('invalid_request', AUTH_IMPORT_REFUSALS.noRefreshToken, 'auth');
  return auth;
}

/** The in-memory credentials the upstream adapter needs, from a parsed auth JSON. */
export function buildAccountCredentials(auth: ParsedCodexAuth): AccountCredentials {
  return {
    accessToken: auth.accessToken,
    refreshToken: auth.refreshToken,
    idToken: auth.idToken,
    chatgptAccountId: auth.chatgptAccountId,
    fedramp: auth.fedramp,
  };
}

function parseAuthDocument(input: unknown): Record<string, unknown> {
  let value = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    const text = typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
    try {
      value = JSON.parse(text);
    } catch {
      throw new GatewayError('invalid_request', 'auth JSON is not valid JSON', 'auth');
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new GatewayError('invalid_request', 'auth JSON must be a JSON object', 'auth');
  }
  return value as Record<string, unknown>;
}

function readPath(root: Record<string, unknown>, path: readonly string[]): unknown {
  let value: unknown = root;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** First non-blank string among the paths, trimmed. */
function firstString(root: Record<string, unknown>, paths: ReadonlyArray<readonly string[]>): string | null {
  for (const path of paths) {
    const value = readPath(root, path);
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
  }
  return null;
}

function firstBoolean(root: Record<string, unknown>, paths: ReadonlyArray<readonly string[]>): boolean | null {
  for (const path of paths) {
    const value = readPath(root, path);
    if (typeof value === 'boolean') return value;
  }
  return null;
}

function claimObject(claims: Record<string, unknown> | null, name: string): Record<string, unknown> | null {
  const value = claims?.[name];
  return isJsonObject(value) ? value : null;
}

function firstClaimString(claimSets: ReadonlyArray<Record<string, unknown> | null>, name: string): string | null {
  for (const claims of claimSets) {
    const value = claims?.[name];
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
  }
  return null;
}

function readEmail(claims: Record<string, unknown> | null): string | null {
  return firstClaimString([claims, claimObject(claims, PROFILE_CLAIM)], 'email');
}

function readTimestampMs(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}
