import { FIELD_LIMITS } from '../config/field-limits.js';
import { GatewayError } from '../errors/codes.js';
import { DEFAULT_MODEL_ALIASES, isModelAliasPattern, isValidModelAlias, isValidUpstreamModel } from '../images/model-aliases.js';
import type { Db, DbTx } from '../store/db.js';
import { deleteModelAlias, listModelAliases, replaceModelAliases, upsertModelAlias } from '../store/model-alias-repo.js';
import type { ModelAliasRecord } from '../store/types.js';
import type { ControlApi, ModelAliasView } from './control-api.js';
import { runControlWrite } from './control-write.js';
import { parseInputObject } from './field-parsers.js';

/** Wire names of the model alias fields (error `param`s); the alias itself travels in the path. */
export const MODEL_ALIAS_FIELD_PARAMS = { upstreamModel: 'upstream_model' } as const;

/** Dependencies of the model alias service. */
export interface ModelAliasServiceDeps {
  db: Db;
  now: () => number;
}

const SHAPE = `${FIELD_LIMITS.modelName.min} to ${FIELD_LIMITS.modelName.max} characters: a letter or digit, then letters, digits, '.', '_', ':', '/' or '-'`;

/**
 * Model mapping rows: list, set (create or replace), remove, reset to DEFAULT_MODEL_ALIASES.
 * An upstream model is checked for shape only: an operator may point an alias at any upstream
 * model (ALLOWED_MODELS lists what clients may name directly, not what an alias may reach).
 */
export function createModelAliasService({ db, now }: ModelAliasServiceDeps): ControlApi['modelAliases'] {
  const write = <T>(fn: (tx: DbTx) => Promise<T>) => runControlWrite(db, { topic: 'model_aliases', noun: 'model alias' }, fn);
  return {
    list: async () => (await listModelAliases(db)).map(buildModelAliasView),
    async set(aliasInput, input) {
      const alias = parseModelAliasName(aliasInput);
      const raw = parseInputObject(input, MODEL_ALIAS_FIELD_PARAMS);
      const upstreamModel = parseUpstreamModel(raw.upstreamModel);
      return buildModelAliasView(await write((tx) => upsertModelAlias(tx, alias, upstreamModel, now())));
    },
    async remove(aliasInput) {
      const alias = typeof aliasInput === 'string' ? aliasInput.trim() : '';
      const removed = await write((tx) => deleteModelAlias(tx, alias));
      if (!removed) throw new GatewayError('not_found', 'model alias not found', 'alias');
    },
    async reset() {
      const rows = await write(async (tx) => {
        await replaceModelAliases(tx, DEFAULT_MODEL_ALIASES, now());
        return listModelAliases(tx);
      });
      return rows.map(buildModelAliasView);
    },
  };
}

/**
 * A model alias as an operator writes it: trimmed, an exact name or a prefix pattern ending in `*`.
 * @throws GatewayError('invalid_request', param `alias`)
 */
export function parseModelAliasName(value: unknown): string {
  const alias = typeof value === 'string' ? value.trim() : '';
  if (alias === '') throw new GatewayError('invalid_request', 'alias is required', 'alias');
  if (!isValidModelAlias(alias)) {
    throw new GatewayError('invalid_request', `alias must be ${SHAPE}, optionally ending in '*' (a prefix pattern)`, 'alias');
  }
  return alias;
}

/**
 * An upstream model name: trimmed, the same shape as an alias without the `*`.
 * @throws GatewayError('invalid_request', param `upstream_model`)
 */
export function parseUpstreamModel(value: unknown): string {
  const param = MODEL_ALIAS_FIELD_PARAMS.upstreamModel;
  const name = typeof value === 'string' ? value.trim() : '';
  if (name === '') throw new GatewayError('invalid_request', `${param} is required`, param);
  if (!isValidUpstreamModel(name)) throw new GatewayError('invalid_request', `${param} must be ${SHAPE}`, param);
  return name;
}

function buildModelAliasView(row: ModelAliasRecord): ModelAliasView {
  return { alias: row.alias, upstreamModel: row.upstreamModel, pattern: isModelAliasPattern(row.alias), createdAt: row.createdAt, updatedAt: row.updatedAt };
}
