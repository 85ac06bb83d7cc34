import { ERRORS, GatewayError, type ErrorCode } from '../errors/codes.js';
import { WIRE_FIELDS, buildJobListQuery, buildWireBody, parseWireView } from './admin-wire.js';
import type { AccountImportResult, AccountView, ControlApi, CreatedKey, GroupView, InstanceView, JobView, KeyView, ModelAliasView } from './control-api.js';
import type { UsageReport, UsageReportQuery, UsageSummary } from './usage-types.js';
import type { Settings } from '../store/types.js';

/** Where the admin API is and how to authenticate to it. */
export interface AdminClientOptions {
  /** The admin listener's base URL (`http://127.0.0.1:19083`), as written to instance.json. */
  baseUrl: string;
  /** The admin bearer token. */
  token: string;
  /** Swapped in tests; defaults to the global fetch. */
  fetchImpl?: typeof fetch;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Turns an OpenAI-shaped error body back into the GatewayError the service threw: same code, message and param. */
export function parseAdminErrorBody(status: number, body: unknown): GatewayError {
  const error = (body as { error?: { message?: unknown; code?: unknown; param?: unknown } } | null)?.error;
  const code = typeof error?.code === 'string' && Object.hasOwn(ERRORS, error.code) ? (error.code as ErrorCode) : null;
  if (code === null || typeof error?.message !== 'string') {
    return new GatewayError('internal_error', `admin API answered HTTP ${status} without an error body`);
  }
  const param = typeof error.param === 'string' ? error.param : null;
  return new GatewayError(code, error.message, param);
}

/** Sends one admin request; answers the parsed JSON (undefined for 204) or throws the rebuilt GatewayError. */
async function sendAdminRequest(opts: AdminClientOptions, method: Method, path: string, body?: unknown): Promise<unknown> {
  const url = `${opts.baseUrl.replace(/\/+$/, '')}/admin/api${path}`;
  const headers: Record<string, string> = { authorization: `Bearer ${opts.token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await (opts.fetchImpl ?? globalThis.fetch)(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new GatewayError('not_ready', `cannot reach the running instance's admin API at ${opts.baseUrl}`, null, { cause: err });
  }
  if (res.status === 204) return undefined;
  const parsed = parseJsonOrNull(await res.text());
  if (!res.ok) throw parseAdminErrorBody(res.status, parsed);
  return parsed;
}

function parseJsonOrNull(text: string): unknown {
  try {
    return text === '' ? null : JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * ControlApi over HTTP: the CLI's path to a running instance's admin API. Sends the same inputs
 * the service takes (as snake_case JSON) and rebuilds its errors, so a command prints the same
 * line whether it talks to the database or to the instance.
 */
export function createAdminClient(opts: AdminClientOptions): ControlApi {
  const call = (method: Method, path: string, body?: unknown) => sendAdminRequest(opts, method, path, body);
  const ref = (r: string): string => `/${encodeURIComponent(r)}`;
  const view = async <T>(p: Promise<unknown>): Promise<T> => parseWireView<T>(await p);
  const list = async <T>(p: Promise<unknown>): Promise<T[]> => parseWireView<{ data: T[] }>(await p).data;
  const done = async (p: Promise<unknown>): Promise<void> => void (await p);

  return {
    keys: {
      list: () => list<KeyView>(call('GET', '/keys')),
      get: (r) => view<KeyView>(call('GET', `/keys${ref(r)}`)),
      create: (input) => view<CreatedKey>(call('POST', '/keys', buildWireBody(WIRE_FIELDS.keyCreate, input))),
      update: (r, input) => view<KeyView>(call('PATCH', `/keys${ref(r)}`, buildWireBody(WIRE_FIELDS.keyUpdate, input))),
      rotate: (r, input) => view<CreatedKey>(call('POST', `/keys${ref(r)}/rotate`, buildWireBody(WIRE_FIELDS.keyRotate, input))),
      resetUsage: (r) => view<KeyView>(call('POST', `/keys${ref(r)}/reset-usage`)),
      delete: (r) => done(call('DELETE', `/keys${ref(r)}`)),
    },
    accounts: {
      list: () => list<AccountView>(call('GET', '/accounts')),
      get: (r) => view<AccountView>(call('GET', `/accounts${ref(r)}`)),
      import: (input) => view<AccountImportResult>(call('POST', '/accounts/import', buildWireBody(WIRE_FIELDS.accountImport, input))),
      update: (r, input) => view<AccountView>(call('PATCH', `/accounts${ref(r)}`, buildWireBody(WIRE_FIELDS.accountUpdate, input))),
      delete: (r) => done(call('DELETE', `/accounts${ref(r)}`)),
    },
    groups: {
      list: () => list<GroupView>(call('GET', '/groups')),
      get: (r) => view<GroupView>(call('GET', `/groups${ref(r)}`)),
      create: (input) => view<GroupView>(call('POST', '/groups', buildWireBody(WIRE_FIELDS.groupCreate, input))),
      update: (r, input) => view<GroupView>(call('PATCH', `/groups${ref(r)}`, buildWireBody(WIRE_FIELDS.groupUpdate, input))),
      delete: (r) => done(call('DELETE', `/groups${ref(r)}`)),
    },
    settings: {
      get: () => view<Settings>(call('GET', '/settings')),
      update: (input) => view<Settings>(call('PATCH', '/settings', buildWireBody(WIRE_FIELDS.settingsUpdate, input))),
    },
    usage: {
      summary: () => view<UsageSummary>(call('GET', '/usage/keys')),
      report: (q) => view<UsageReport>(call('GET', `/usage?${buildUsageReportParams(q)}`)),
    },
    modelAliases: {
      list: () => list<ModelAliasView>(call('GET', '/model-aliases')),
      set: (a, input) => view<ModelAliasView>(call('PUT', `/model-aliases${ref(a)}`, buildWireBody(WIRE_FIELDS.modelAliasSet, input))),
      remove: (a) => done(call('DELETE', `/model-aliases${ref(a)}`)),
      reset: () => list<ModelAliasView>(call('POST', '/model-aliases/reset')),
    },
    jobs: {
      list: (filter = {}) => list<JobView>(call('GET', `/jobs${buildJobListQuery(filter)}`)),
      show: (r) => view<JobView>(call('GET', `/jobs${ref(r)}`)),
      cancel: (r) => view<JobView>(call('POST', `/jobs${ref(r)}/cancel`)),
    },
    instances: { list: () => list<InstanceView>(call('GET', '/instances')) },
  };
}

/** The query string of a usage report (the admin route's parameters). */
export function buildUsageReportParams(q: UsageReportQuery): string {
  const params = new URLSearchParams({ since: String(q.sinceMs), until: String(q.untilMs), by: q.by.join(',') });
  if (q.key !== undefined) params.set('key', q.key);
  if (q.account !== undefined) params.set('account', q.account);
  return params.toString();
}
