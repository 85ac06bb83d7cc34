import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PUBLIC_API_BASES } from '../../src/images/endpoint-aliases.js';
import { openCapability } from '../../src/store/capability-seal.js';
import { HOSTED_RESULT_TOKEN_PREFIX } from '../../src/store/hosted-results.js';
import { runCli } from '../support/cli-process.js';
import { fakeBehaviors } from '../support/fake-codex/behaviors.js';
import { imageBase64 } from '../support/fake-codex/image-body.js';
import { findFreePort } from '../support/free-port.js';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { waitFor } from '../support/wait-for.js';

/** ~300 KB: the upstream body arrives in many chunks, so the image is sealed piece by piece. */
const IMAGE_BYTES = 300_000;
const IMAGE = Buffer.from(imageBase64(IMAGE_BYTES).toString('ascii'), 'base64');

/**
 * A gateway in RESULT_URL_MODE=hosted whose PUBLIC_BASE_URL is its own listener: the port is picked
 * up front, so result URLs are fetchable exactly as a client would fetch them.
 */
async function startHosted(env: Record<string, string> = {}): Promise<{ h: GatewayHarness; base: string; secret: string }> {
  const port = await findFreePort();
  const base = `http://127.0.0.1:${port}`;
  const h = await startGatewayHarness({ env: { GATEWAY_LISTEN: `127.0.0.1:${port}`, RESULT_URL_MODE: 'hosted', PUBLIC_BASE_URL: `${base}/`, ...env } });
  await h.importAccount('host-1', { imageConcurrency: 8 });
  const { secret } = await h.createKey();
  return { h, base, secret };
}

type ErrorBody = { error: { type: string; code: string; message: string; param: string | null } };

/** Every file under `dir`, as bytes. */
async function readTree(dir: string): Promise<Array<{ path: string; bytes: Buffer }>> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  return Promise.all(files.map(async (path) => ({ path, bytes: await readFile(path).catch(() => Buffer.alloc(0)) })));
}

describe('RESULT_URL_MODE=hosted', () => {
  let h: GatewayHarness;
  let base: string;
  let secret: string;
  beforeAll(async () => {
    ({ h, base, secret } = await startHosted());
  }, 60_000);
  afterAll(async () => h?.stop());
  beforeEach(() => {
    h.fake.reset();
    h.fake.setBehavior('*', fakeBehaviors.success({ imageBytes: IMAGE_BYTES, chunked: true }));
  });

  it('answers data[0].url on PUBLIC_BASE_URL, and the URL serves the same bytes as b64_json, without a key', async () => {
    const client = h.sdk(secret);
    const hosted = await client.images.generate({ prompt: 'a hosted lighthouse', response_format: 'url' });
    const url = hosted.data![0]!.url!;
    expect(url).toMatch(new RegExp(`^${base}/v1/images/results/imgres_[A-Za-z0-9_-]{43}$`));
    expect(hosted.data![0]!.b64_json).toBeUndefined();
    expect(hosted.usage).toMatchObject({ input_tokens: 17, output_tokens: 1372 });
    const viaB64 = await client.images.generate({ prompt: 'a hosted lighthouse' });
    const expected = Buffer.from(viaB64.data![0]!.b64_json!, 'base64');
    expect(expected).toEqual(IMAGE);

    const res = await fetch(url); // fetched at once: the answer ended only after the row was committed
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(Number(res.headers.get('content-length'))).toBe(IMAGE.length);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const maxAge = Number(/^private, max-age=(\d+)$/.exec(res.headers.get('cache-control') ?? '')?.[1]);
    expect(maxAge).toBeGreaterThan(3500);
    expect(maxAge).toBeLessThanOrEqual(3600);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(expected);

    const token = url.slice(url.lastIndexOf('/') + 1);
    for (const apiBase of PUBLIC_API_BASES) {
      const alias = await fetch(`${base}${apiBase}/images/results/${token}`);
      expect(alias.status, apiBase).toBe(200);
      expect(Buffer.from(await alias.arrayBuffer()).equals(IMAGE), apiBase).toBe(true);
    }
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('image/png');
    const post = await fetch(url, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('CORS applies to result URLs as to the other public paths', async () => {
    const url = (await h.sdk(secret).images.generate({ prompt: 'cors', response_format: 'url' })).data![0]!.url!;
    await h.admin.settings.update({ corsAllowedOrigins: ['https://app.example.com'] });
    try {
      const res = await waitFor('the CORS setting to apply', async () => {
        const r = await fetch(url, { headers: { origin: 'https://app.example.com' } });
        await r.arrayBuffer(); // read every body: an unread 300 KB answer stays in flight and holds the gateway's stop
        return r.headers.get('access-control-allow-origin') ? r : null;
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
      const other = await fetch(url, { headers: { origin: 'https://evil.example.com' } });
      await other.arrayBuffer();
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await h.admin.settings.update({ corsAllowedOrigins: [] });
    }
  });

  it('a wrong, malformed or truncated token is 404 result_not_found, OpenAI-shaped', async () => {
    const hosted = await h.sdk(secret).images.generate({ prompt: 'x', response_format: 'url' });
    const token = hosted.data![0]!.url!.split('/').at(-1)!;
    const flipped = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    for (const wrong of [flipped, `imgres_${'A'.repeat(43)}`, token.slice(0, -1), 'nonsense', `imgjob_${token.slice(7)}`]) {
      const res = await fetch(`${base}/v1/images/results/${wrong}`);
      expect(res.status, wrong).toBe(404);
      expect(res.headers.get('x-should-retry')).toBe('false');
      expect(((await res.json()) as ErrorBody).error).toEqual({
        type: 'not_found_error',
        code: 'result_not_found',
        param: null,
        message: 'this image result does not exist or has expired',
      });
    }
  });

  it('n: 2 (fan-out) gets two hosted URLs, each serving its image', async () => {
    const hosted = await h.sdk(secret).images.generate({ prompt: 'two', n: 2, response_format: 'url' });
    expect(hosted.data).toHaveLength(2);
    const urls = hosted.data!.map((d) => d.url!);
    expect(new Set(urls).size).toBe(2);
    for (const url of urls) {
      expect(url.startsWith(`${base}/v1/images/results/imgres_`)).toBe(true);
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(IMAGE)).toBe(true);
    }
  });

  it('the Responses fallback answers a hosted URL too', async () => {
    await h.admin.settings.update({ responsesFallback: true });
    try {
      const res = await waitFor('the fallback to apply', async () => {
        h.fake.reset();
        h.fake.setBehavior('host-1', [fakeBehaviors.detailError(404, 'Not Found')]);
        const r = await fetch(`${base}/v1/images/generations`, {
          method: 'POST',
          headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
          body: JSON.stringify({ prompt: 'fallback', response_format: 'url' }),
        });
        return r.status === 200 ? r : null;
      });
      const url = ((await res.json()) as { data: Array<{ url: string }> }).data[0]!.url;
      expect(url.startsWith(`${base}/v1/images/results/imgres_`)).toBe(true);
      const image = await fetch(url);
      expect(image.headers.get('content-type')).toBe('image/png');
      expect(
        Buffer.from(await image.arrayBuffer())
          .subarray(1, 4)
          .toString(),
      ).toBe('PNG');
    } finally {
      await h.admin.settings.update({ responsesFallback: false });
    }
  });

  it('streams still carry b64_json', async () => {
    const stream = await h.sdk(secret).images.generate({ prompt: 's', stream: true, response_format: 'url' });
    const events = [];
    for await (const event of stream) events.push(event);
    expect(events).toHaveLength(1);
    expect(Buffer.from((events[0] as { b64_json: string }).b64_json, 'base64')).toEqual(IMAGE);
  });

  it('redaction: no image base64, image bytes or token in the data directory (database files) or the logs', async () => {
    const { data: hosted, response } = await h.sdk(secret).images.generate({ prompt: 'a secret hosted scene', response_format: 'url' }).withResponse();
    const token = hosted.data![0]!.url!.split('/').at(-1)!;
    const served = await fetch(hosted.data![0]!.url!);
    expect([served.status, (await served.arrayBuffer()).byteLength]).toEqual([200, IMAGE.length]);
    await h.waitForLogEvents(response.headers.get('x-request-id')!);
    const b64 = imageBase64(IMAGE_BYTES).toString('ascii');
    const idHash = openCapability(HOSTED_RESULT_TOKEN_PREFIX, token)!.idHash;
    const files = await readTree(h.dataDir);
    expect(files.some((f) => f.path.includes('pgdata'))).toBe(true);
    // Positive control: the row's key is in the database files, so the search does reach the rows.
    expect(
      files.some((f) => f.bytes.includes(Buffer.from(idHash))),
      'id_hash found in the data directory',
    ).toBe(true);
    const canaries = {
      base64Head: Buffer.from(b64.slice(4_000, 4_060)),
      base64Tail: Buffer.from(b64.slice(-200, -140)),
      imageBytes: IMAGE.subarray(150_000, 150_032),
      token: Buffer.from(token.slice(HOSTED_RESULT_TOKEN_PREFIX.length)),
      prompt: Buffer.from('a secret hosted scene'),
    };
    for (const [name, needle] of Object.entries(canaries)) {
      const hits = files.filter((f) => f.bytes.includes(needle)).map((f) => f.path);
      expect(hits, `${name} found`).toEqual([]);
    }
    expect((await h.readAppLog()).includes(token.slice(7))).toBe(false);
  });
});

describe('RESULT_URL_TTL_MS', () => {
  let h: GatewayHarness;
  let secret: string;
  beforeAll(async () => {
    ({ h, secret } = await startHosted({ RESULT_URL_TTL_MS: '1000' }));
  }, 60_000);
  afterAll(async () => h?.stop());

  it('a hosted URL serves its image until the TTL, then 404', async () => {
    const url = (await h.sdk(secret).images.generate({ prompt: 'short-lived', response_format: 'url' })).data![0]!.url!;
    const fresh = await fetch(url);
    await fresh.arrayBuffer(); // an unread 300 KB answer stays in flight and holds the gateway's stop
    expect([fresh.status, fresh.headers.get('cache-control')]).toEqual([200, expect.stringMatching(/^private, max-age=[01]$/)]);
    const gone = await waitFor('the URL to expire', async () => {
      const res = await fetch(url);
      if (res.status === 404) return res;
      await res.arrayBuffer();
      return null;
    });
    expect(((await gone.json()) as ErrorBody).error.code).toBe('result_not_found');
  });
});

describe('RESULT_URL_MODE=hosted with async jobs', () => {
  let h: GatewayHarness;
  let base: string;
  let secret: string;
  beforeAll(async () => {
    ({ h, base, secret } = await startHosted());
    h.fake.setBehavior('*', fakeBehaviors.success({ imageBytes: IMAGE_BYTES, chunked: true }));
  }, 60_000);
  afterAll(async () => h?.stop());

  it('an async job with response_format url answers hosted URLs too, as the plain request would', async () => {
    const submitted = await fetch(`${base}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', prefer: 'respond-async' },
      body: JSON.stringify({ prompt: 'a hosted job', response_format: 'url' }),
    });
    expect(submitted.status).toBe(202);
    const { id } = (await submitted.json()) as { id: string };
    const job = (await (await fetch(`${base}/v1/images/jobs/${id}?wait=30`, { headers: { authorization: `Bearer ${secret}` } })).json()) as {
      status: string;
      result: { data: Array<{ url?: string; b64_json?: string }> };
    };
    expect(job.status).toBe('succeeded');
    const url = job.result.data[0]!.url!;
    expect(url).toMatch(new RegExp(`^${base}/v1/images/results/imgres_`));
    expect(job.result.data[0]!.b64_json).toBeUndefined();
    expect(Buffer.from(await (await fetch(url)).arrayBuffer())).toEqual(IMAGE);
  });
});

describe('start refuses RESULT_URL_MODE=hosted without PUBLIC_BASE_URL', () => {
  it('exits 1 with one line naming both settings', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'cig-hosted-'));
    try {
      const result = await runCli(['start'], {
        env: { CODEX_IMAGE_GATEWAY_DATA_DIR: dataDir, RESULT_URL_MODE: 'hosted', GATEWAY_LISTEN: '127.0.0.1:0', ADMIN_LISTEN: '127.0.0.1:0' },
      });
      expect(result.code).toBe(1);
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain('RESULT_URL_MODE');
      expect(lines[0]).toContain('PUBLIC_BASE_URL');
      const bad = await runCli(['start'], { env: { CODEX_IMAGE_GATEWAY_DATA_DIR: dataDir, RESULT_URL_MODE: 'hosted', PUBLIC_BASE_URL: 'ftp://x' } });
      expect([bad.code, bad.stderr.trim()]).toEqual([1, expect.stringContaining('PUBLIC_BASE_URL must be an http or https URL')]);
      const mode = await runCli(['start'], { env: { CODEX_IMAGE_GATEWAY_DATA_DIR: dataDir, RESULT_URL_MODE: 'links' } });
      expect([mode.code, mode.stderr.trim()]).toEqual([1, expect.stringContaining('RESULT_URL_MODE must be one of data, hosted')]);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
