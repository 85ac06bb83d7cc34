import { FIELD_LIMITS } from '../config/field-limits.js';
import { GatewayError } from '../errors/codes.js';
import {
  deleteAccount,
  findAccount,
  findAccountByIdentity,
  insertAccount,
  listAccounts,
  saveAccountCredentials,
  updateAccountSettings,
  type AccountCredentialUpdate,
  type AccountRow,
} from '../store/account-repo.js';
import type { CredentialCipher } from '../store/cipher-port.js';
import type { Db, DbQuerier, DbTx } from '../store/db.js';
import type { AccountStatus } from '../store/types.js';
import { parseCodexAuth, parseImportableCodexAuth, type ParsedCodexAuth } from '../upstream/codex-auth.js';
import { buildAccountView } from './account-view.js';
import type { AccountImportChange, AccountImportInput, AccountImportResult, AccountUpdateInput, ControlApi } from './control-api.js';
import { runControlWrite } from './control-write.js';
import { parseBoolean, parseChoice, parseInputObject, parseIntegerInRange, parseName } from './field-parsers.js';
import { parseAccountProxy } from './proxy-input.js';
import { createRecordId } from './record-id.js';

/** Wire names of the account fields (error `param`s). */
export const ACCOUNT_FIELD_PARAMS = {
  auth: 'auth',
  name: 'name',
  status: 'status',
  imageEnabled: 'image_enabled',
  imageConcurrency: 'image_concurrency',
  proxyUrl: 'proxy_url',
} as const satisfies Record<keyof AccountImportInput | keyof AccountUpdateInput, string>;

const { status: _status, ...IMPORT_FIELDS } = ACCOUNT_FIELD_PARAMS;
const { auth: _auth, ...UPDATE_FIELDS } = ACCOUNT_FIELD_PARAMS;
const ACCOUNT_STATUSES = ['active', 'disabled'] as const satisfies readonly AccountStatus[];

/** Dependencies of the account service. */
export interface AccountServiceDeps {
  db: Db;
  cipher: CredentialCipher;
  now: () => number;
}

/** Validated operator settings of an account (each present only when given). */
interface AccountChanges {
  name?: string;
  status?: AccountStatus;
  imageEnabled?: boolean;
  imageConcurrency?: number;
  /** Sealed proxy URL; null = direct. */
  proxyUrlEnc?: Buffer | null;
}

/** Account operations: import (parse, seal, upsert by name or identity), read, update, delete. */
export function createAccountService({ db, cipher, now }: AccountServiceDeps): ControlApi['accounts'] {
  const toView = (row: AccountRow) => buildAccountView(row, cipher);
  const mustFind = async (q: DbQuerier, ref: string) => {
    const row = await findAccount(q, ref);
    if (!row) throw new GatewayError('not_found', 'account not found', 'account');
    return row;
  };
  return {
    list: async () => (await listAccounts(db)).map(toView),
    get: async (ref) => toView(await mustFind(db, ref)),
    async import(input) {
      const raw = parseInputObject(input, IMPORT_FIELDS);
      if (raw.auth === undefined) throw new GatewayError('invalid_request', 'auth is required', 'auth');
      const auth = parseImportableCodexAuth(raw.auth);
      const changes = parseAccountChanges(raw, cipher);
      const { id, ...result } = await runControlWrite(db, { topic: 'accounts', noun: 'account', ...(changes.name ? { name: changes.name } : {}) }, (tx) =>
        upsertImportedAccount(tx, { auth, changes, cipher, at: now() }),
      );
      return { ...toView(await mustFind(db, id)), ...result };
    },
    async update(ref, input) {
      const changes = parseAccountChanges(parseInputObject(input, UPDATE_FIELDS), cipher);
      const row = await runControlWrite(db, { topic: 'accounts', noun: 'account', ...(changes.name ? { name: changes.name } : {}) }, async (tx) => {
        const next: AccountRow = { ...(await mustFind(tx, ref)), ...changes, updatedAt: now() };
        await updateAccountSettings(tx, next);
        return next;
      });
      return toView(row);
    },
    async delete(ref) {
      await runControlWrite(db, { topic: 'accounts', noun: 'account' }, async (tx) => {
        await deleteAccount(tx, (await mustFind(tx, ref)).id);
      });
    },
  };
}

function parseAccountChanges(raw: Record<string, unknown>, cipher: CredentialCipher): AccountChanges {
  const p = ACCOUNT_FIELD_PARAMS;
  const changes: AccountChanges = {};
  if (raw.name !== undefined) changes.name = parseName(raw.name);
  if (raw.status !== undefined) changes.status = parseChoice(raw.status, ACCOUNT_STATUSES, p.status);
  if (raw.imageEnabled !== undefined) changes.imageEnabled = parseBoolean(raw.imageEnabled, p.imageEnabled);
  if (raw.imageConcurrency !== undefined)
    changes.imageConcurrency = parseIntegerInRange(raw.imageConcurrency, FIELD_LIMITS.accountImageConcurrency, p.imageConcurrency);
  if (raw.proxyUrl !== undefined) {
    const proxy = parseAccountProxy(raw.proxyUrl, p.proxyUrl);
    changes.proxyUrlEnc = proxy === null ? null : cipher.encrypt(proxy, 'account-proxy');
  }
  return changes;
}

interface ImportPlan {
  auth: ParsedCodexAuth;
  changes: AccountChanges;
  cipher: CredentialCipher;
  at: number;
}

/** Which account an import wrote, and how (see AccountImportResult). */
interface ImportWrite extends Pick<AccountImportResult, 'outcome' | 'changed'> {
  id: string;
}

/**
 * Replaces the credentials of the account with the same name (given, or the default name), else of
 * the one holding the same ChatGPT identity, keeping its settings except those given explicitly;
 * otherwise inserts a new account.
 */
async function upsertImportedAccount(tx: DbTx, plan: ImportPlan): Promise<ImportWrite> {
  const { auth, changes, at } = plan;
  const id = createRecordId('account');
  const name = changes.name ?? buildDefaultName(auth, id);
  const existing = (await findAccount(tx, name)) ?? (auth.chatgptAccountId ? await findAccountByIdentity(tx, auth.chatgptAccountId, auth.email) : null);
  const credentials = buildCredentialUpdate(plan);
  if (!existing) {
    await insertAccount(tx, {
      id,
      name,
      status: 'active',
      imageEnabled: changes.imageEnabled ?? true,
      imageConcurrency: changes.imageConcurrency ?? FIELD_LIMITS.accountImageConcurrency.default,
      proxyUrlEnc: changes.proxyUrlEnc ?? null,
      ...credentials,
      createdAt: at,
    });
    return { id, outcome: 'created', changed: [] };
  }
  const changed = listImportChanges(existing, plan);
  await saveAccountCredentials(tx, existing.id, credentials);
  if (Object.keys(changes).length > 0) await updateAccountSettings(tx, { ...existing, ...changes, updatedAt: at });
  return { id: existing.id, outcome: 'updated', changed };
}

/** A re-import's differences from the stored account, by name, in AccountImportChange's order. */
function listImportChanges(existing: AccountRow, { auth, changes, cipher }: ImportPlan): AccountImportChange[] {
  const p = ACCOUNT_FIELD_PARAMS;
  const differs: Array<[AccountImportChange, boolean]> = [
    ['tokens', !holdsSameTokens(existing, auth, cipher)],
    ['account_id', existing.chatgptAccountId !== auth.chatgptAccountId],
    ['email', existing.email !== auth.email],
    ['plan', existing.planType !== auth.planType],
    ['expiry', existing.accessTokenExpiresAt !== auth.accessTokenExpiresAt],
    [p.name, changes.name !== undefined && changes.name !== existing.name],
    [p.imageEnabled, changes.imageEnabled !== undefined && changes.imageEnabled !== existing.imageEnabled],
    [p.imageConcurrency, changes.imageConcurrency !== undefined && changes.imageConcurrency !== existing.imageConcurrency],
    [p.proxyUrl, changes.proxyUrlEnc !== undefined && !isSameSealedProxy(existing.proxyUrlEnc, changes.proxyUrlEnc, cipher)],
  ];
  return differs.filter(([, yes]) => yes).map(([name]) => name);
}

/** Whether the stored auth JSON holds the same access, refresh and id tokens (an unreadable one does not). */
function holdsSameTokens(existing: AccountRow, auth: ParsedCodexAuth, cipher: CredentialCipher): boolean {
  try {
    const stored = parseCodexAuth(cipher.decrypt(existing.credentialsEnc, 'account-credentials').toString('utf8'));
    return stored.accessToken === auth.accessToken && stored.refreshToken === auth.refreshToken && stored.idToken === auth.idToken;
  } catch {
    return false;
  }
}

/** Whether two sealed proxy URLs (null = direct) open to the same URL (an unreadable one never matches). */
function isSameSealedProxy(stored: Buffer | null, given: Buffer | null, cipher: CredentialCipher): boolean {
  const open = (sealed: Buffer | null) => (sealed === null ? null : cipher.decrypt(sealed, 'account-proxy').toString('utf8'));
  try {
    return open(stored) === open(given);
  } catch {
    return false;
  }
}

function buildCredentialUpdate({ auth, cipher, at }: ImportPlan): AccountCredentialUpdate {
  return {
    credentialsEnc: cipher.encrypt(JSON.stringify(auth.document), 'account-credentials'),
    hasRefreshToken: auth.refreshToken !== null,
    chatgptAccountId: auth.chatgptAccountId,
    email: auth.email,
    planType: auth.planType,
    accessTokenExpiresAt: auth.accessTokenExpiresAt,
    lastRefreshAt: auth.lastRefreshAt,
    lastError: null,
    // A new import heals an account whose refresh token was refused for good.
    needsReimport: false,
    updatedAt: at,
  };
}

/** Email, else ChatGPT account id, else the record id: the first that is a valid name. */
function buildDefaultName(auth: ParsedCodexAuth, id: string): string {
  for (const candidate of [auth.email, auth.chatgptAccountId]) {
    if (candidate === null) continue;
    try {
      return parseName(candidate);
    } catch {
      // Not usable as a name (too long, odd characters): try the next candidate.
    }
  }
  return id;
}
