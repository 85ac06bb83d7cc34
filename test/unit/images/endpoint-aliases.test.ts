import { describe, expect, it } from 'vitest';
import { ENDPOINT_ALIASES, MODELS_PATHS, PUBLIC_API_BASES, resolveEndpoint } from '../../../src/images/endpoint-aliases.js';

describe('ENDPOINT_ALIASES', () => {
  it('holds exactly the eight public paths, four per endpoint', () => {
    const entries = Object.entries(ENDPOINT_ALIASES);
    expect(entries).toHaveLength(8);
    expect(entries.filter(([, ep]) => ep === 'generations')).toHaveLength(4);
    for (const [path, ep] of entries) expect(path.endsWith(`/images/${ep}`), path).toBe(true);
  });

  it('is exactly PUBLIC_API_BASES × the two image paths, and the model list hangs under the same bases', () => {
    const derived = PUBLIC_API_BASES.flatMap((base) => [`${base}/images/generations`, `${base}/images/edits`]);
    expect(Object.keys(ENDPOINT_ALIASES).sort()).toEqual(derived.sort());
    expect(MODELS_PATHS).toEqual(PUBLIC_API_BASES.map((base) => `${base}/models`));
  });
});

describe('resolveEndpoint', () => {
  it.each(Object.entries(ENDPOINT_ALIASES))('maps %s to %s', (path, ep) => expect(resolveEndpoint(path)).toBe(ep));

  it.each([
    '/v1/responses',
    '/v1/images/generations/',
    '/V1/images/generations',
    '/api/llm-gateway/images/generations',
    '/v1/images/edits?x=1',
    '/v1/images/variations',
    ' /v1/images/edits',
    '/v1/images/edits/',
    'toString',
    '__proto__',
    '',
  ])('rejects near-miss %j', (path) => expect(resolveEndpoint(path)).toBeUndefined());
});
