import { FIELD_LIMITS } from '../config/field-limits.js';
import { GatewayError } from '../errors/codes.js';
import { listAccountNames } from '../store/account-repo.js';
import type { Db, DbQuerier } from '../store/db.js';
import { findGroup, listGroupNames } from '../store/group-repo.js';
import { deleteKey, findKey, insertKey, listKeys, replaceKeySecret, updateKey, writeUsageReset } from '../store/key-repo.js';
import { readSettings } from '../store/settings-repo.js';
import type { KeyRecord, KeyRouting, KeyStatus, KeyUsage, PeriodUsage } from '../store/types.js';
import { loadPeriodUsage, subtractResetBaseline } from '../store/usage-period-repo.js';
import { buildEmptyUsage, findKeyUsage, listKeyUsage } from '../store/usage-repo.js';
import { resolveAccountIds } from './account-refs.js';
import { buildKeyDisplayPrefix, generateApiKeySecret, hashApiKey } from './api-key.js';
import type { AuditLog, ControlApi, KeyCreateInput, KeyRotateInput, KeyRoutingInput, KeyView } from './control-api.js';
import { runControlWrite } from './control-write.js';
import { buildKeyBudgetView, parseKeyBudgetChanges, type KeyBudgetChanges } from './key-budget-fields.js';
import {
  parseBoolean,
  parseChoice,
  parseInputObject,
  parseIntegerInRange,
  parseName,
  parseNullableFutureTime,
  parseNullableIntegerInRange,
  parseRefList,
} from './field-parsers.js';
import { createRecordId } from './record-id.js';

/** Wire names of the key fields (error `param`s). */
export const KEY_FIELD_PARAMS = {
  name: 'name',
  status: 'status',
  imageEnabled: 'image_enabled',
  quotaPeriod: 'quota_period',
  quotaTokens: 'quota_tokens',
  quotaImages: 'quota_images',
  quotaCostUsd: 'quota_cost_usd',
  maxConcurrency: 'max_concurrency',
  minStartIntervalMs: 'min_start_interval_ms',
  routing: 'routing',
  expiresAt: 'expires_at',
} as const satisfies Record<keyof KeyCreateInput, string>;

/** Wire names of the rotation fields. */
export const KEY_ROTATE_PARAMS = {
  graceMs: 'grace_ms',
} as const satisfies Record<keyof KeyRotateInput, string>;

const KEY_STATUSES = ['active', 'disabled'] as const satisfies readonly KeyStatus[];
const ROUTING_MODES = ['all', 'accounts', 'group'] as const satisfies ReadonlyArray<KeyRouting['mode']>;

/** Dependencies of the key service. */
export interface KeyServiceDeps {
  db: Db;
  now: () => number;
  /** Gets one line per usage reset: who, which period, and the usage it set aside. */
  audit?: AuditLog;
}

/** Key operations: create and rotate (each returns the secret once), read, update, delete; validation lives here. */
export function createKeyService({ db, now, audit }: KeyServiceDeps): ControlApi['keys'] {
  const view = async (key: KeyRecord) => {
    const [names, usage, periods] = await Promise.all([loadNames(db), findKeyUsage(db, key.id), loadKeyPeriods(db, [key], now())]);
    return buildKeyView(key, names, usage, periods.get(key.id)!);
  };
  const mustFind = async (q: DbQuerier, ref: string) => {
    const key = await findKey(q, ref);
    if (!key) throw new GatewayError('not_found', 'key not found', 'key');
    return key;
  };
  return {
    async list() {
      const [keys, names, usage] = await Promise.all([listKeys(db), loadNames(db), listKeyUsage(db)]);
      const usageById = new Map(usage.map((u) => [u.keyId, u]));
      const periods = await loadKeyPeriods(db, keys, now());
      return keys.map((key) => buildKeyView(key, names, usageById.get(key.id) ?? null, periods.get(key.id)!));
    },
    get: async (ref) => view(await mustFind(db, ref)),
    async create(input) {
      const { name, ...changes } = parseKeyChanges(input, now());
      if (name === undefined) throw new GatewayError('invalid_request', 'name is required', 'name');
      const secret = generateApiKeySecret();
      const at = now();
      const key = await runControlWrite(db, { topic: 'keys', noun: 'key', name }, async (tx) => {
        const record: KeyRecord = {
          id: createRecordId('key'),
          name,
          hash: hashApiKey(secret),
          prefix: buildKeyDisplayPrefix(secret),
          status: changes.status ?? 'active',
          imageEnabled: changes.imageEnabled ?? true,
          quotaPeriod: changes.quotaPeriod ?? 'none',
          quotaTokens: changes.quotaTokens ?? null,
          quotaImages: changes.quotaImages ?? null,
          quotaCostMicros: changes.quotaCostMicros ?? null,
          usageReset: null,
          maxConcurrency: changes.maxConcurrency ?? null,
          minStartIntervalMs: changes.minStartIntervalMs ?? null,
          routing: await resolveRouting(tx, changes.routing ?? { mode: 'all' }),
          expiresAt: changes.expiresAt ?? null,
          previousSecret: null,
          createdAt: at,
          updatedAt: at,
        };
        await insertKey(tx, record);
        return record;
      });
      return { key: await view(key), secret };
    },
    async update(ref, input) {
      const changes = parseKeyChanges(input, now());
      const key = await runControlWrite(db, { topic: 'keys', noun: 'key', ...(changes.name ? { name: changes.name } : {}) }, async (tx) => {
        const current = await mustFind(tx, ref);
        const { routing, ...plain } = changes;
        const next: KeyRecord = { ...current, ...plain, updatedAt: now() };
        if (next.quotaPeriod !== current.quotaPeriod) next.usageReset = null; // as updateKey does: the baseline was the old period's
        if (routing) next.routing = await resolveRouting(tx, routing);
        await updateKey(tx, next);
        return next;
      });
      return view(key);
    },
    async rotate(ref, input) {
      const raw = parseInputObject(input, KEY_ROTATE_PARAMS);
      const graceMs =
        raw.graceMs === undefined
          ? FIELD_LIMITS.keyRotationGraceMs.default
          : parseIntegerInRange(raw.graceMs, FIELD_LIMITS.keyRotationGraceMs, KEY_ROTATE_PARAMS.graceMs);
      const secret = generateApiKeySecret();
      const key = await runControlWrite(db, { topic: 'keys', noun: 'key' }, async (tx) => {
        const current = await mustFind(tx, ref);
        const at = now();
        const next: KeyRecord = {
          ...current,
          hash: hashApiKey(secret),
          prefix: buildKeyDisplayPrefix(secret),
          previousSecret: graceMs > 0 ? { hash: current.hash, expiresAt: at + graceMs } : null,
          updatedAt: at,
        };
        await replaceKeySecret(tx, next.id, next, next.previousSecret, at);
        return next;
      });
      return { key: await view(key), secret };
    },
    async resetUsage(ref) {
      const key = await runControlWrite(db, { topic: 'keys', noun: 'key' }, async (tx) => {
        const current = await mustFind(tx, ref);
        const at = now();
        // The baseline is the period's usage before any earlier reset is taken off.
        const raw = (await loadKeyPeriods(tx, [{ ...current, usageReset: null }], at)).get(current.id)!;
        const next: KeyRecord = { ...current, usageReset: { at, ...raw.used }, updatedAt: at };
        await writeUsageReset(tx, next.id, next.usageReset!);
        // What the reset sets aside: the period's usage as the budget counted it, after any earlier reset in it.
        return { record: next, setAside: subtractResetBaseline(raw.used, current.usageReset, raw.periodStartMs) };
      });
      audit?.info(
        { keyId: key.record.id, keyName: key.record.name, quotaPeriod: key.record.quotaPeriod, ...key.setAside, resetAt: key.record.usageReset!.at },
        'key usage reset',
      );
      return view(key.record);
    },
    async delete(ref) {
      await runControlWrite(db, { topic: 'keys', noun: 'key' }, async (tx) => {
        await deleteKey(tx, (await mustFind(tx, ref)).id);
      });
    },
  };
}

/** Validated key fields, routing references not yet resolved. */
type KeyChanges = Partial<Omit<KeyCreateInput, 'routing' | 'expiresAt' | 'quotaPeriod' | 'quotaImages' | 'quotaCostUsd'>> &
  KeyBudgetChanges & { routing?: KeyRoutingInput; expiresAt?: number | null };

function parseKeyChanges(input: unknown, now: number): KeyChanges {
  const raw = parseInputObject(input, KEY_FIELD_PARAMS);
  const p = KEY_FIELD_PARAMS;
  const changes: KeyChanges = parseKeyBudgetChanges(raw, p);
  if (raw.name !== undefined) changes.name = parseName(raw.name);
  if (raw.status !== undefined) changes.status = parseChoice(raw.status, KEY_STATUSES, p.status);
  if (raw.imageEnabled !== undefined) changes.imageEnabled = parseBoolean(raw.imageEnabled, p.imageEnabled);
  if (raw.quotaTokens !== undefined) changes.quotaTokens = parseNullableIntegerInRange(raw.quotaTokens, FIELD_LIMITS.keyQuotaTokens, p.quotaTokens);
  if (raw.maxConcurrency !== undefined) {
    changes.maxConcurrency = parseNullableIntegerInRange(raw.maxConcurrency, FIELD_LIMITS.keyMaxConcurrency, p.maxConcurrency);
  }
  if (raw.minStartIntervalMs !== undefined) {
    changes.minStartIntervalMs = parseNullableIntegerInRange(raw.minStartIntervalMs, FIELD_LIMITS.keyMinStartIntervalMs, p.minStartIntervalMs);
  }
  if (raw.routing !== undefined) changes.routing = parseRoutingInput(raw.routing);
  if (raw.expiresAt !== undefined) changes.expiresAt = parseNullableFutureTime(raw.expiresAt, now, p.expiresAt);
  return changes;
}

function parseRoutingInput(value: unknown): KeyRoutingInput {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new GatewayError('invalid_request', 'routing must be an object with a mode', 'routing');
  }
  const raw = value as Record<string, unknown>;
  const mode = parseChoice(raw.mode, ROUTING_MODES, 'routing.mode');
  switch (mode) {
    case 'all':
      return { mode };
    case 'accounts':
      return { mode, accounts: parseRefList(raw.accounts, { param: 'routing.accounts', what: 'account', minItems: 1 }) };
    case 'group':
      if (typeof raw.group !== 'string' || raw.group.trim() === '') throw new GatewayError('invalid_request', 'routing.group is required', 'routing.group');
      return { mode, group: raw.group.trim() };
  }
}

/** Turns account and group references (names or ids) into ids, inside the writing transaction. */
async function resolveRouting(tx: DbQuerier, routing: KeyRoutingInput): Promise<KeyRouting> {
  switch (routing.mode) {
    case 'all':
      return routing;
    case 'accounts':
      return { mode: 'accounts', accountIds: await resolveAccountIds(tx, routing.accounts, 'routing.accounts') };
    case 'group': {
      const group = await findGroup(tx, routing.group);
      if (!group) throw new GatewayError('invalid_request', `unknown group \`${routing.group}\``, 'routing.group');
      return { mode: 'group', groupId: group.id };
    }
  }
}

interface NameMaps {
  accounts: Map<string, string>;
  groups: Map<string, string>;
}

async function loadNames(db: DbQuerier): Promise<NameMaps> {
  const [accounts, groups] = await Promise.all([listAccountNames(db), listGroupNames(db)]);
  return { accounts: new Map(accounts.map((a) => [a.id, a.name])), groups: new Map(groups.map((g) => [g.id, g.name])) };
}

/** Each key's usage in its current quota period, in the operator's budget time zone. */
async function loadKeyPeriods(db: DbQuerier, keys: readonly KeyRecord[], nowMs: number): Promise<Map<string, PeriodUsage>> {
  const settings = await readSettings(db);
  return loadPeriodUsage(db, keys, nowMs, settings.budgetTimeZone);
}

function buildKeyView(key: KeyRecord, names: NameMaps, usage: KeyUsage | null, period: PeriodUsage): KeyView {
  const { keyId: _keyId, ...counters } = usage ?? buildEmptyUsage(key.id);
  return {
    ...buildKeyBudgetView(key, period),
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    status: key.status,
    imageEnabled: key.imageEnabled,
    quotaTokens: key.quotaTokens,
    maxConcurrency: key.maxConcurrency,
    minStartIntervalMs: key.minStartIntervalMs,
    routing: buildRoutingView(key.routing, names),
    usage: counters,
    expiresAt: key.expiresAt,
    previousSecretExpiresAt: key.previousSecret?.expiresAt ?? null,
    createdAt: key.createdAt,
    updatedAt: key.updatedAt,
  };
}

function buildRoutingView(routing: KeyRouting, names: NameMaps): KeyRoutingInput {
  switch (routing.mode) {
    case 'all':
      return routing;
    case 'accounts':
      return { mode: 'accounts', accounts: routing.accountIds.map((id) => names.accounts.get(id) ?? id) };
    case 'group':
      return { mode: 'group', group: names.groups.get(routing.groupId) ?? routing.groupId };
  }
}
