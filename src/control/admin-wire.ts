/**
 * The one place the admin API's snake_case JSON meets the camelCase ControlApi types.
 * The server parses request bodies with `parseWireBody` and answers with `buildWireView`; the admin
 * client (src/control/admin-client.ts) uses the inverses, so the mapping is written once.
 * Request-body field names come from the services' own tables (their error `param`s); views follow
 * the mechanical camelCase ↔ snake_case rule, which a test checks those tables agree with.
 */
import { isJsonObject } from '../guards/is-json-object.js';
import { ACCOUNT_FIELD_PARAMS } from './account-service.js';
import type { AccountImportInput, AccountUpdateInput, JobListFilter, KeyCreateInput, KeyRotateInput, KeyUpdateInput } from './control-api.js';
import { GROUP_FIELD_PARAMS } from './group-service.js';
import { JOB_FILTER_PARAMS } from './job-service.js';
import { KEY_FIELD_PARAMS, KEY_ROTATE_PARAMS } from './key-service.js';
import { MODEL_ALIAS_FIELD_PARAMS } from './model-alias-service.js';
import { GatewayError } from '../errors/codes.js';
import { SETTING_PARAMS } from '../store/settings-defaults.js';
import type { Settings } from '../store/types.js';

type GroupInput = { name: string; accounts?: string[] };

/** `imageEnabled` → `image_enabled`, at the type level. */
export type SnakeCase<S extends string> = S extends `${infer H}${infer T}` ? `${H extends Lowercase<H> ? H : `_${Lowercase<H>}`}${SnakeCase<T>}` : S;

/** `image_enabled` → `imageEnabled`, at the type level. */
export type CamelCase<S extends string> = S extends `${infer H}_${infer T}` ? `${H}${Capitalize<CamelCase<T>>}` : S;

/** A ControlApi value as it travels on the wire: every object key in snake_case, recursively. */
export type Wire<T> = T extends readonly (infer U)[] ? Wire<U>[] : T extends object ? { [K in keyof T as K extends string ? SnakeCase<K> : K]: Wire<T[K]> } : T;

/** Converts one camelCase name (or a dotted path of them) to snake_case. */
export const toSnakeName = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Converts one snake_case name (or a dotted path of them) to camelCase. */
export const toCamelName = (name: string): string => name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

function convertKeys(value: unknown, rename: (k: string) => string): unknown {
  if (Array.isArray(value)) return value.map((v) => convertKeys(v, rename));
  if (!isJsonObject(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [rename(k), convertKeys(v, rename)]));
}

/** Server side: a view (key, account, group, settings, usage) as its snake_case JSON. */
export const buildWireView = <T>(view: T): Wire<T> => convertKeys(view, toSnakeName) as Wire<T>;

/** Client side: the inverse of buildWireView. Trusts the server's shape (same codebase). */
export const parseWireView = <T>(wire: unknown): T => convertKeys(wire, toCamelName) as T;

/** camelCase field → wire name, as each service declares them (they are its error `param`s too). */
export type FieldParams<I> = { readonly [K in keyof I]-?: string };

const omitField = <T extends object, K extends keyof T>(table: T, field: K): Omit<T, K> => {
  const { [field]: _omitted, ...rest } = table;
  return rest;
};

/**
 * The fields of every request body the admin API accepts (and of the job list's query), taken from
 * the services' own tables so a field is named in one place. Unknown fields (camelCase spellings
 * included) are refused here.
 */
export const WIRE_FIELDS = {
  keyCreate: KEY_FIELD_PARAMS,
  keyUpdate: KEY_FIELD_PARAMS,
  keyRotate: KEY_ROTATE_PARAMS,
  accountImport: omitField(ACCOUNT_FIELD_PARAMS, 'status'),
  accountUpdate: omitField(ACCOUNT_FIELD_PARAMS, 'auth'),
  groupCreate: GROUP_FIELD_PARAMS,
  groupUpdate: GROUP_FIELD_PARAMS,
  settingsUpdate: SETTING_PARAMS,
  modelAliasSet: MODEL_ALIAS_FIELD_PARAMS,
  jobList: JOB_FILTER_PARAMS,
} as const satisfies {
  keyCreate: FieldParams<KeyCreateInput>;
  keyUpdate: FieldParams<KeyUpdateInput>;
  keyRotate: FieldParams<KeyRotateInput>;
  accountImport: FieldParams<AccountImportInput>;
  accountUpdate: FieldParams<AccountUpdateInput>;
  groupCreate: FieldParams<GroupInput>;
  groupUpdate: FieldParams<GroupInput>;
  settingsUpdate: FieldParams<Settings>;
  modelAliasSet: FieldParams<{ upstreamModel: string }>;
  jobList: FieldParams<JobListFilter>;
};

/**
 * Server side: turns a snake_case request body into the ControlApi input named by `fields`.
 * Only the object and its field names are checked here. Values pass through untouched because the
 * service validates every value (ControlApi's contract), so the API and the CLI give the same
 * messages with the same `param` for them.
 * @throws GatewayError `invalid_request` (not a JSON object) or `unknown_field` (param = the field).
 */
export function parseWireBody<I>(fields: FieldParams<NoInfer<I>>, body: unknown): I {
  if (!isJsonObject(body)) throw new GatewayError('invalid_request', 'request body must be a JSON object', null);
  const byWireName = new Map(Object.entries(fields).map(([camel, wire]) => [wire as string, camel]));
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(body)) {
    const camel = byWireName.get(name);
    if (camel === undefined) throw new GatewayError('unknown_field', `unknown field \`${name}\``, name);
    out[camel] = value;
  }
  return out as I;
}

/**
 * Client side: a ControlApi input as a request body, renamed through the same table the server
 * parses with. Shallow on purpose: values (routing, the opaque `auth` JSON of an import) travel
 * untouched; undefined fields are left out.
 */
export function buildWireBody<I extends object>(fields: FieldParams<NoInfer<I>>, input: I): Record<string, unknown> {
  const names = fields as Readonly<Record<string, string>>;
  return Object.fromEntries(
    Object.entries(input)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [names[k] ?? k, v]),
  );
}

/**
 * Server side: the `GET /jobs` query (`?key=&status=&limit=`) as the service's filter. An empty
 * value counts as absent (a form's blank field); `limit` becomes a number whose range the service
 * checks, so the API and the CLI give the same message.
 * @throws GatewayError `unknown_field` for any other parameter.
 */
export function parseJobListQuery(query: unknown): JobListFilter {
  const raw = parseWireBody<Record<string, unknown>>(WIRE_FIELDS.jobList, query ?? {});
  const given = Object.entries(raw).filter(([, v]) => v !== '' && v !== undefined);
  return Object.fromEntries(given.map(([k, v]) => [k, k === 'limit' && typeof v === 'string' ? Number(v) : v])) as JobListFilter;
}

/** Client side: the inverse of parseJobListQuery, as a query string (`''` when nothing is filtered). */
export function buildJobListQuery(filter: JobListFilter): string {
  const body = buildWireBody(WIRE_FIELDS.jobList, filter);
  const query = new URLSearchParams(Object.entries(body).map(([k, v]) => [k, String(v)])).toString();
  return query === '' ? '' : `?${query}`;
}
