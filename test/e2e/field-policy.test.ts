/**
 * FIELD_POLICY, row by row, over real HTTP: every field × request form × representative values
 * (valid, each legacy value its map names, invalid, and null) is sent to a real gateway, and the
 * answer and the body the fake upstream received must be what the row says. The expectations are
 * derived from the table; only the sample values are written here, and the `satisfies` below makes
 * a new row without samples a compile error.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FIELD_POLICY, POLICY_FIELDS, REQUEST_FORMS, type FieldRule, type PolicyField, type RequestForm } from '../../src/images/field-policy.js';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { makePng, toDataUrl } from '../support/images.js';
import { waitFor } from '../support/wait-for.js';

/** Sample values per field: accepted ones, and ones the row's value shape refuses. */
const SAMPLES = {
  model: { valid: ['dall-e-3', 'gpt-image-2'], invalid: [7] },
  prompt: { valid: ['a lighthouse at dusk'], invalid: [7] },
  n: { valid: [2], invalid: [11, 0] },
  size: { valid: ['1536x864'], invalid: ['huge'] },
  quality: { valid: ['high'], invalid: ['ultra'] },
  background: { valid: ['opaque'], invalid: ['pink'] },
  output_format: { valid: ['webp'], invalid: ['bmp'] },
  output_compression: { valid: [50], invalid: [101] },
  moderation: { valid: ['low'], invalid: ['none'] },
  input_fidelity: { valid: ['high'], invalid: ['medium'] },
  response_format: { valid: ['url', 'b64_json'], invalid: ['json'] },
  stream: { valid: [false], invalid: ['yes'] },
  partial_images: { valid: [2], invalid: [4] },
  style: { valid: ['vivid'], invalid: [3] },
  user: { valid: ['user-1'], invalid: [3] },
  safety_identifier: { valid: ['hash-1'], invalid: [3] },
  complexity: { valid: ['high'], invalid: [3] },
  frame_count: { valid: [4], invalid: ['four'] },
  frame_duration_ms: { valid: [200], invalid: ['slow'] },
  svg: { valid: [{ model: 'svg-author' }], invalid: ['svg'] },
  images: { valid: ['image'], invalid: ['not-an-image'] },
  image: { valid: ['image'], invalid: [] },
  mask: { valid: ['image'], invalid: ['not-an-image'] },
  markup: { valid: ['image'], invalid: [] },
} as const satisfies Record<PolicyField, { valid: readonly unknown[]; invalid: readonly unknown[] }>;

const PNG = makePng(4, 4);
const PNG_URL = toDataUrl('png', PNG);
const PROMPT = 'a quiet harbour';

let h: GatewayHarness;
let secret: string;
beforeAll(async () => {
  h = await startGatewayHarness();
  await h.importAccount('policy-acct', { imageConcurrency: 8 });
  secret = (await h.createKey()).secret;
});
afterAll(async () => h?.stop());
beforeEach(() => h.fake.reset());

/** The JSON value a sample stands for ('image' is a real image reference). */
const jsonValue = (field: PolicyField, value: unknown): unknown => {
  if (value !== 'image') return value;
  return field === 'images' ? [{ image_url: PNG_URL }] : { image_url: PNG_URL };
};

/** Sends `{prompt, [field]: value}` (plus an image on edits) in the given form. */
async function send(form: RequestForm, field: PolicyField, value: unknown): Promise<Response> {
  const headers = { authorization: `Bearer ${secret}` };
  if (form !== 'editsMultipart') {
    const body: Record<string, unknown> = { prompt: PROMPT, ...(form === 'editsJson' ? { images: [{ image_url: PNG_URL }] } : {}) };
    body[field] = jsonValue(field, value);
    const path = form === 'generations' ? 'generations' : 'edits';
    return fetch(`${h.gatewayUrl}/v1/images/${path}`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }
  const form_ = new FormData();
  if (field !== 'prompt') form_.append('prompt', PROMPT);
  if (field !== 'image') form_.append('image', new Blob([new Uint8Array(PNG)], { type: 'image/png' }), 'a.png');
  appendMultipart(form_, field, value);
  return fetch(`${h.gatewayUrl}/v1/images/edits`, { method: 'POST', headers, body: form_ });
}

function appendMultipart(form: FormData, field: PolicyField, value: unknown): void {
  if (value === 'image') {
    form.append(field, new Blob([new Uint8Array(PNG)], { type: 'image/png' }), 'b.png');
    return;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [key, inner] of Object.entries(value)) form.append(`${field}[${key}]`, String(inner));
    return;
  }
  form.append(field, String(value));
}

/** The cases of one field on one form: every sample, every legacy value of a map rule, and null (JSON only). */
function casesFor(field: PolicyField, form: RequestForm): Array<{ value: unknown; kind: 'valid' | 'legacy' | 'invalid' | 'null' }> {
  const rule: FieldRule = FIELD_POLICY[field].forms[form];
  const legacy = rule.action === 'map' ? Object.keys(rule.values) : [];
  return [
    ...SAMPLES[field].valid.map((value) => ({ value, kind: 'valid' as const })),
    ...legacy.map((value) => ({ value, kind: 'legacy' as const })),
    // Multipart text is always a string: a sample that is invalid only by its JSON type cannot be sent there.
    ...SAMPLES[field].invalid.filter((v) => form !== 'editsMultipart' || typeof v === 'string').map((value) => ({ value, kind: 'invalid' as const })),
    ...(form === 'editsMultipart' ? [] : [{ value: null, kind: 'null' as const }]),
  ];
}

const REQUIRED: ReadonlySet<string> = new Set(['prompt', 'images', 'image']);
const upstreamBodies = () => h.fake.requests.map((r) => r.body!);

async function expectRefused(res: Response, field: string, code?: string): Promise<void> {
  expect(res.status, `${field}: status`).toBe(400);
  const { error } = (await res.json()) as { error: { param: string | null; code: string } };
  expect(error.param, `${field}: param`).toBe(field);
  if (code) expect(error.code).toBe(code);
  expect(h.fake.requests).toHaveLength(0);
}

/** What the upstream must have received for an accepted value, by the row's action. */
async function expectServed(res: Response, field: PolicyField, rule: FieldRule, value: unknown): Promise<void> {
  expect(res.status, `${field}=${JSON.stringify(value)}: status`).toBe(200);
  const bodies = upstreamBodies();
  const fields = bodies[0]!.fields;
  const ignored = res.headers.get('x-gateway-ignored-params')?.split(',') ?? [];
  const mapped = res.headers.get('x-gateway-mapped-params')?.split(',') ?? [];
  // Partial images are answered only inside a stream; these requests do not stream, so they are named too.
  const notHonoured = (rule.action === 'drop' && value !== null) || (field === 'partial_images' && typeof value === 'number' && value > 0);
  expect(ignored.includes(field), `${field} named as ignored`).toBe(notHonoured);
  const wasMapped = rule.action === 'map' && typeof value === 'string' && Object.hasOwn(rule.values, value);
  expect(mapped.includes(field), `${field} named as mapped`).toBe(wasMapped);
  if (value === null) {
    if (field === 'model') expect(fields.model).toBe('gpt-image-2');
    else if (field !== 'mask') expect(fields).not.toHaveProperty(field);
    else expect(bodies[0]!.mask).toBeNull();
    return;
  }
  switch (rule.action) {
    case 'forward':
      return expectForwarded(field, value);
    case 'map':
      expect(fields[field]).toBe(wasMapped ? rule.values[value as string] : value);
      return;
    case 'alias':
      expect(fields.model).toBe('gpt-image-2');
      expect(res.headers.get('x-gateway-model')).toBe('gpt-image-2');
      return;
    case 'fanout':
      expect(bodies).toHaveLength(value as number);
      for (const body of bodies) expect(body.fields).not.toHaveProperty('n');
      return;
    case 'answer':
    case 'drop':
      expect(fields).not.toHaveProperty(field);
      if (field === 'response_format' && value === 'url') {
        const json = (await res.json()) as { data: Array<{ url?: string }> };
        expect(json.data[0]!.url).toMatch(/^data:image\/png;base64,/);
      }
      return;
    case 'absent':
      throw new Error(`${field}: an absent field cannot be served`);
  }
}

function expectForwarded(field: PolicyField, value: unknown): void {
  const body = upstreamBodies()[0]!;
  if (field === 'prompt') expect(body.fields.prompt).toBe(value);
  else if (field === 'images' || field === 'image') expect(body.images).toEqual([{ kind: 'data_url', mime: 'image/png', bytes: PNG.length }]);
  else if (field === 'mask') expect(body.mask).toEqual({ kind: 'data_url', mime: 'image/png', bytes: PNG.length });
  else expect(body.fields[field]).toEqual(value);
}

describe.each(REQUEST_FORMS)('FIELD_POLICY on %s', (form) => {
  it.each(POLICY_FIELDS)('%s', async (field) => {
    const rule: FieldRule = FIELD_POLICY[field].forms[form];
    for (const { value, kind } of casesFor(field, form)) {
      h.fake.reset();
      const res = await send(form, field, value);
      const label = `${form} ${field}=${JSON.stringify(value)} (${kind})`;
      if (rule.action === 'absent') {
        await expectRefused(res, field, 'unknown_field');
      } else if (kind === 'invalid' || (kind === 'null' && REQUIRED.has(field))) {
        await expectRefused(res, field);
      } else {
        await expectServed(res, field, rule, value).catch((err: Error) => {
          throw new Error(`${label}: ${err.message}`);
        });
      }
    }
  });
});

describe('the strict field policy', () => {
  it('refuses what the lenient policy drops or maps, on every form', async () => {
    await h.admin.settings.update({ fieldPolicy: 'strict' });
    try {
      await waitFor('the strict policy to reach the data plane', async () => ((await send('generations', 'style', 'vivid')).status === 400 ? true : null));
      for (const form of REQUEST_FORMS) {
        h.fake.reset();
        const drop = POLICY_FIELDS.find((f) => FIELD_POLICY[f].forms[form].action === 'drop')!;
        await expectRefused(await send(form, drop, SAMPLES[drop].valid[0]), drop, 'unsupported_field');
        await expectRefused(await send(form, 'quality', 'hd'), 'quality', 'unsupported_value');
        await expectRefused(await send(form, 'size', '256x256'), 'size', 'unsupported_value');
        h.fake.reset();
        expect((await send(form, 'quality', 'high')).status).toBe(200);
      }
    } finally {
      await h.admin.settings.update({ fieldPolicy: 'lenient' });
    }
  });
});
