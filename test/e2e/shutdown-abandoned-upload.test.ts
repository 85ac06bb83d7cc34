import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminClient } from '../../src/control/admin-client.js';
import { readInstanceFile, type InstanceInfo } from '../../src/control/instance-file.js';
import { SPOOL_DIR_NAME } from '../../src/images/image-spool.js';
import { REQUEST_LOG_FILES } from '../../src/observe/request-log-files.js';
import { DATA_DIR_LOCK_FILE } from '../../src/store/dir-lock.js';
import { runCli, spawnStart, type CliDaemon } from '../support/cli-process.js';
import { fakeBehaviors, startFakeCodexUpstream, type FakeCodexUpstream } from '../support/fake-codex-upstream.js';
import { makePng, padImage } from '../support/images.js';
import { makeCodexAuthJson } from '../support/jwt.js';
import { waitFor } from '../support/wait-for.js';

const SLOW_MS = 120_000;
const MAX_FILE_BYTES = 800_000;
const MAX_TOTAL_BYTES = 1_000_000;
let dir = '';
let fake: FakeCodexUpstream;
let daemon: CliDaemon;
let instance: InstanceInfo;
const dataDir = () => join(dir, 'data');
const spoolDir = () => join(dir, 'tmp', SPOOL_DIR_NAME);
// A pid that has just exited: its spool file is what a kill -9 leaves behind.
const staleSpoolFile = `cig-${spawnSync(process.execPath, ['-e', '']).pid}-${randomUUID()}.spool`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cig-abandon-'));
  await mkdir(spoolDir(), { recursive: true });
  await writeFile(join(spoolDir(), staleSpoolFile), 'ciphertext');
  await writeFile(join(spoolDir(), 'not-ours.txt'), 'keep me');
  fake = await startFakeCodexUpstream();
  // A long usage flush interval: only the shutdown flush can write this test's usage.
  ({ daemon, instance } = await spawnStart(dataDir(), {
    CODEX_UPSTREAM_BASE_URL: fake.baseUrl,
    USAGE_FLUSH_MS: '600000',
    MAX_UPLOAD_FILE_BYTES: String(MAX_FILE_BYTES),
    MAX_UPLOAD_TOTAL_BYTES: String(MAX_TOTAL_BYTES),
    TMPDIR: join(dir, 'tmp'),
  }));
}, SLOW_MS);

afterAll(async () => {
  await daemon?.stop();
  await fake?.close();
  await rm(dir, { recursive: true, force: true });
}, SLOW_MS);

/** A multipart edit whose two images together are over MAX_UPLOAD_TOTAL_BYTES, as raw bytes. */
/** A generation over a keep-alive agent that never closes idle sockets itself (unlike fetch's 4 s). */
function keptAliveGeneration(secret: string, agent: Agent): Promise<{ status: number; body: string }> {
  const body = JSON.stringify({ prompt: 'finish me' });
  return new Promise((resolve, reject) => {
    const req = request(
      `${instance.gatewayUrl}/v1/images/generations`,
      {
        method: 'POST',
        agent,
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function oversizedEdit(secret: string, port: number): Buffer {
  const boundary = `----cig${randomUUID().replaceAll('-', '')}`;
  const image = padImage(makePng(2, 2), 700_000);
  const part = (headers: string, body: Buffer | string) =>
    Buffer.concat([Buffer.from(`--${boundary}\r\n${headers}\r\n\r\n`), Buffer.from(body), Buffer.from('\r\n')]);
  const body = Buffer.concat([
    part('Content-Disposition: form-data; name="prompt"', 'too much'),
    part('Content-Disposition: form-data; name="image[]"; filename="a.png"\r\nContent-Type: image/png', image),
    part('Content-Disposition: form-data; name="image[]"; filename="b.png"\r\nContent-Type: image/png', image),
    Buffer.from(`--${boundary}--\r\n`),
  ]);
  const head = [
    'POST /v1/images/edits HTTP/1.1',
    `Host: 127.0.0.1:${port}`,
    `Authorization: Bearer ${secret}`,
    `Content-Type: multipart/form-data; boundary=${boundary}`,
    `Content-Length: ${body.length}`,
    'Connection: keep-alive',
  ].join('\r\n');
  return Buffer.concat([Buffer.from(`${head}\r\n\r\n`), body]);
}

describe('an upload abandoned with a 413, then SIGTERM', () => {
  it('start swept the spool files a killed process left, and kept foreign files', async () => {
    const left = await readdir(spoolDir());
    expect(left).not.toContain(staleSpoolFile);
    expect(left).toContain('not-ours.txt');
  });

  it('the 413 closes the connection; SIGTERM then exits promptly with usage flushed and the locks released', { timeout: SLOW_MS }, async () => {
    const token = (await readFile(join(dataDir(), 'admin-token'), 'utf8')).trim();
    const admin = createAdminClient({ baseUrl: instance.adminUrl, token });
    await admin.accounts.import({ auth: makeCodexAuthJson({ accountId: 'abandon-1' }), name: 'abandon-1' });
    const created = await admin.keys.create({ name: 'abandon' });
    const ok = await fetch(`${instance.gatewayUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${created.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'count me' }),
    });
    expect(ok.status).toBe(200);
    await ok.arrayBuffer();

    // A generation in flight at SIGTERM, on a connection its client keeps alive.
    fake.setBehavior('abandon-1', [fakeBehaviors.success({ delayMs: 1_500 })]);
    const agent = new Agent({ keepAlive: true });
    const inFlight = keptAliveGeneration(created.secret, agent);
    await waitFor('the request to reach the upstream', () => fake.concurrency.current('abandon-1') === 1 || null);

    const port = Number(new URL(instance.gatewayUrl).port);
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined); // the server may reset a socket whose upload it abandons
    let received = '';
    let closed = false;
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    socket.on('close', () => (closed = true));
    socket.write(oversizedEdit(created.secret, port));
    const head = await waitFor('the 413 head', () => (received.includes('\r\n\r\n') ? received.slice(0, received.indexOf('\r\n\r\n')) : null), 30_000);
    expect(head).toMatch(/^HTTP\/1\.1 413 /);
    expect(head.toLowerCase()).toContain('connection: close');
    // SIGTERM while the abandoned socket may still be open: shutdown must not wait for it.
    const signalled = Date.now();
    daemon.child.kill('SIGTERM');
    const finished = await inFlight;
    expect(finished.status).toBe(200);
    // Not the keep-alive timeout (72 s) of the in-flight request's connection, nor the abandoned upload's.
    expect(await daemon.exited).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(10_000);
    expect(closed).toBe(true);
    agent.destroy();
    expect(daemon.output()).not.toMatch(/shutdown step failed|shutdown failed/);
    expect(await readInstanceFile(dataDir())).toBeNull();
    await expect(access(join(dataDir(), DATA_DIR_LOCK_FILE))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(access(join(dataDir(), 'logs', REQUEST_LOG_FILES.lock))).rejects.toMatchObject({ code: 'ENOENT' });

    const shown = await runCli(['keys', 'show', created.key.id, '--json', '--data-dir', dataDir()]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ usage: { requests: 2, successes: 2, images: 2 } });
  });
});
