import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_ALIASES, isModelAliasPattern } from '../../src/images/model-aliases.js';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { waitFor } from '../support/wait-for.js';

let h: GatewayHarness;
let secret: string;

beforeAll(async () => {
  h = await startGatewayHarness({ env: { ALLOWED_MODELS: 'gpt-image-2,gpt-image-2-2026-04-21' } });
  secret = (await h.createKey()).secret;
});
afterAll(async () => h?.stop());

const DEFAULT_EXACT = DEFAULT_MODEL_ALIASES.filter((r) => !isModelAliasPattern(r.alias)).map((r) => r.alias);

/** Every model id the SDK's auto-paginating list yields. */
async function listIds(client: OpenAI): Promise<string[]> {
  const ids: string[] = [];
  for await (const model of client.models.list()) ids.push(model.id);
  return ids;
}

describe('the official openai SDK lists and retrieves models', () => {
  it('models.list() yields the served models, then every exact default alias, owned by the gateway', async () => {
    const page = await h.sdk(secret).models.list();
    expect(page.data.map((m) => m.id)).toEqual(['gpt-image-2', 'gpt-image-2-2026-04-21', ...[...DEFAULT_EXACT].sort()]);
    for (const model of page.data) expect(model).toMatchObject({ object: 'model', owned_by: 'codex-image-gateway', created: expect.any(Number) });
  });

  it('models.retrieve() answers an alias, a served model and an id with `:`', async () => {
    const client = h.sdk(secret);
    expect(await client.models.retrieve('dall-e-3')).toMatchObject({ id: 'dall-e-3', object: 'model', owned_by: 'codex-image-gateway' });
    expect(await client.models.retrieve('gpt-image-2-2026-04-21')).toMatchObject({ id: 'gpt-image-2-2026-04-21' });
    await h.admin.modelAliases.set('ft:gpt-image-1:org:x', { upstreamModel: 'gpt-image-2' });
    const found = await waitFor('the new alias on the data plane', () => client.models.retrieve('ft:gpt-image-1:org:x'), 1_000);
    expect(found.id).toBe('ft:gpt-image-1:org:x');
    expect(await listIds(client)).toContain('ft:gpt-image-1:org:x');
  });

  it('an unknown id, or a pattern, is NotFoundError (404 model_not_found)', async () => {
    for (const id of ['stable-diffusion-xl', 'gpt-image-*']) {
      const err = await h
        .sdk(secret)
        .models.retrieve(id)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
    }
  });

  it('a removed alias leaves the list at the next reload', async () => {
    await h.admin.modelAliases.remove('dall-e-2');
    await waitFor('dall-e-2 gone', async () => !(await listIds(h.sdk(secret))).includes('dall-e-2'), 1_000);
  });

  it('a bad key is AuthenticationError; a key disabled through the admin API is PermissionDeniedError within a second', async () => {
    await expect(h.sdk('cig_not_a_real_key').models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    const key = await h.createKey();
    const client = h.sdk(key.secret);
    expect((await client.models.list()).data.length).toBeGreaterThan(0);
    await h.admin.keys.update(key.id, { status: 'disabled' });
    const err = await waitFor(
      '403 on models.list',
      () =>
        client.models.list().then(
          () => null,
          (e: unknown) => (e instanceof OpenAI.PermissionDeniedError ? e : null),
        ),
      1_000,
    );
    expect(err.message).toContain('this API key is disabled');
  });

  it('a key with the image switch off may still list models', async () => {
    const off = await h.createKey({ imageEnabled: false });
    expect((await h.sdk(off.secret).models.list()).data.map((m) => m.id)).toContain('dall-e-3');
  });
});
