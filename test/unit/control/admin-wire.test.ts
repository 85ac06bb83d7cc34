import { describe, expect, it } from 'vitest';
import {
  WIRE_FIELDS,
  buildJobListQuery,
  buildWireBody,
  buildWireView,
  parseJobListQuery,
  parseWireBody,
  parseWireView,
  toCamelName,
  toSnakeName,
} from '../../../src/control/admin-wire.js';
import { isGatewayError } from '../../../src/errors/codes.js';
import type { KeyView } from '../../../src/control/control-api.js';

const KEY_VIEW: KeyView = {
  id: 'key_1',
  name: 'k',
  prefix: 'cig_ab12',
  status: 'active',
  imageEnabled: true,
  quotaTokens: null,
  maxConcurrency: 4,
  minStartIntervalMs: 250,
  routing: { mode: 'accounts', accounts: ['a', 'b'] },
  usage: { requests: 1, successes: 1, images: 1, inputTokens: 2, outputTokens: 3, totalTokens: 5, usageMissing: 0, estimatedCostMicros: 0, lastUsedAt: 9 },
  expiresAt: null,
  previousSecretExpiresAt: null,
  quotaPeriod: 'none',
  quotaImages: null,
  quotaCostUsd: null,
  periodUsage: { startsAt: 0, endsAt: null, images: 1, tokens: 5, estimatedCostUsd: 0 },
  usageResetAt: null,
  createdAt: 1,
  updatedAt: 2,
};

function catchError(fn: () => unknown): { code: string; param: string | null; message: string } {
  try {
    fn();
  } catch (err) {
    if (isGatewayError(err)) return { code: err.code, param: err.param, message: err.message };
    throw err;
  }
  throw new Error('expected a GatewayError');
}

describe('names', () => {
  it.each([
    ['imageEnabled', 'image_enabled'],
    ['minStartIntervalMs', 'min_start_interval_ms'],
    ['name', 'name'],
    ['routing.accounts', 'routing.accounts'],
    ['routing.groupId', 'routing.group_id'],
  ])('%s <-> %s', (camel, snake) => {
    expect(toSnakeName(camel)).toBe(snake);
    expect(toCamelName(snake)).toBe(camel);
  });
});

describe('views', () => {
  it('puts every key in snake_case, recursively, and round-trips', () => {
    const wire = buildWireView(KEY_VIEW);
    expect(wire.image_enabled).toBe(true);
    expect(wire.min_start_interval_ms).toBe(250);
    expect(wire.usage.total_tokens).toBe(5);
    expect(wire.usage.last_used_at).toBe(9);
    expect(JSON.stringify(wire)).not.toMatch(/"[a-z]+[A-Z]/);
    expect(parseWireView<KeyView>(JSON.parse(JSON.stringify(wire)))).toEqual(KEY_VIEW);
  });
});

describe('WIRE_FIELDS', () => {
  it.each(Object.entries(WIRE_FIELDS))('%s follows the camelCase <-> snake_case rule views use', (_body, fields) => {
    for (const [camel, wire] of Object.entries(fields)) {
      expect(wire).toBe(toSnakeName(camel));
      expect(toCamelName(wire)).toBe(camel);
    }
  });

  it('imports take auth but not status; updates take status but not auth', () => {
    expect(Object.keys(WIRE_FIELDS.accountImport)).toContain('auth');
    expect(Object.keys(WIRE_FIELDS.accountImport)).not.toContain('status');
    expect(Object.keys(WIRE_FIELDS.accountUpdate)).toContain('status');
    expect(Object.keys(WIRE_FIELDS.accountUpdate)).not.toContain('auth');
  });
});

describe('buildWireBody', () => {
  it('renames top-level fields only, drops undefined, keeps values (the auth JSON) untouched', () => {
    const auth = { tokens: { accessToken: 'x' }, accountId: 'a' };
    expect(buildWireBody(WIRE_FIELDS.accountImport, { auth, imageConcurrency: 3, proxyUrl: null, name: undefined })).toEqual({
      auth,
      image_concurrency: 3,
      proxy_url: null,
    });
  });

  it('is the inverse of parseWireBody for every key field', () => {
    const input = {
      name: 'k',
      status: 'disabled',
      imageEnabled: false,
      quotaTokens: 10,
      maxConcurrency: null,
      minStartIntervalMs: 0,
      routing: { mode: 'group', group: 'g' },
    } as const;
    const body = buildWireBody(WIRE_FIELDS.keyUpdate, input);
    expect(body).toMatchObject({ image_enabled: false, quota_tokens: 10, max_concurrency: null, min_start_interval_ms: 0 });
    expect(parseWireBody(WIRE_FIELDS.keyUpdate, body)).toEqual(input);
  });
});

describe('parseWireBody', () => {
  it('accepts an empty object for an update', () => {
    expect(parseWireBody(WIRE_FIELDS.accountUpdate, {})).toEqual({});
  });

  it('passes values through untouched: the service validates them, with its own messages', () => {
    expect(parseWireBody(WIRE_FIELDS.keyCreate, { max_concurrency: '5', routing: { mode: 'x' } })).toEqual({
      maxConcurrency: '5',
      routing: { mode: 'x' },
    });
  });

  it.each([
    ['keyCreate', { maxConcurrency: 3 }, 'maxConcurrency'],
    ['keyCreate', { secret: 'x' }, 'secret'],
    ['keyCreate', { max_concurency: 3 }, 'max_concurency'],
    ['accountImport', { status: 'active' }, 'status'],
    ['accountUpdate', { auth: {} }, 'auth'],
    ['groupUpdate', { members: [] }, 'members'],
    ['settingsUpdate', { logMaxFiles: 3 }, 'logMaxFiles'],
  ] as const)('%s refuses unknown field %j', (table, body, param) => {
    expect(catchError(() => parseWireBody(WIRE_FIELDS[table], body))).toMatchObject({ code: 'unknown_field', param });
  });

  it.each([null, [], 'text', 3])('refuses a body that is not an object: %j', (body) => {
    expect(catchError(() => parseWireBody(WIRE_FIELDS.keyCreate, body)).code).toBe('invalid_request');
  });
});

describe('the job list query', () => {
  it('round-trips a filter through the query string', () => {
    const filter = { key: 'team a', status: 'running', limit: 20 } as const;
    const query = buildJobListQuery(filter);
    expect(query).toBe('?key=team+a&status=running&limit=20');
    expect(parseJobListQuery(Object.fromEntries(new URLSearchParams(query.slice(1))))).toEqual(filter);
  });

  it('no filter is no query; blank values count as absent', () => {
    expect(buildJobListQuery({})).toBe('');
    expect(parseJobListQuery({ key: '', status: '' })).toEqual({});
    expect(parseJobListQuery(undefined)).toEqual({});
  });

  it('turns limit into a number but leaves its range (and non-numbers) to the service', () => {
    expect(parseJobListQuery({ limit: '0' })).toEqual({ limit: 0 });
    expect(parseJobListQuery({ limit: 'ten' }).limit).toBeNaN();
  });

  it('refuses any other parameter', () => {
    expect(catchError(() => parseJobListQuery({ state: 'running' }))).toMatchObject({ code: 'unknown_field', param: 'state' });
  });
});
