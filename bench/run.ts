/**
 * Benchmark (`npm run bench`): prints figures, passes or fails nothing. Everything runs on loopback:
 * the fake Codex upstream in one child process, the gateway (`start`, embedded database) in another,
 * load from this process. Each figure is the median of RUNS runs.
 *  (a) small responses at 50 connections: gateway req/s ÷ direct-to-fake req/s, and the p50 latency the
 *      gateway adds at 1 connection;
 *  (b) peak RSS growth of the gateway process above idle while serving 32 concurrent ~4 MB responses,
 *      and while receiving 16 concurrent 20 MB multipart edits;
 *  (c) for contrast, the same growth for 16 JSON edits carrying a 20 MB data URL each.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { Agent, request } from 'undici';
import { createAdminClient } from '../src/control/admin-client.js';
import { makeCodexAuthJson, makeCodexJwt } from '../test/support/jwt.js';
import { makePng, padImage } from '../test/support/images.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
const MiB = 1024 * 1024;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function spawnTs(script: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', script, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] });
}

async function firstJsonLine<T>(child: ChildProcess, match: (v: Record<string, unknown>) => T | undefined): Promise<T> {
  for await (const line of createInterface({ input: child.stdout! })) {
    try {
      const found = match(JSON.parse(line) as Record<string, unknown>);
      if (found !== undefined) return found;
    } catch {
      /* not JSON: ignore */
    }
  }
  throw new Error('process ended before printing the expected line');
}

const readStatusKb = async (pid: number, field: 'VmRSS' | 'VmHWM') => {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
};

/** Runs `load` and returns the gateway's peak RSS growth in MB over its idle RSS just before. */
async function measureRssGrowthMb(pid: number, load: () => Promise<void>): Promise<number> {
  if (global.gc) global.gc();
  await new Promise((r) => setTimeout(r, 500));
  const idleKb = await readStatusKb(pid, 'VmRSS');
  let peakKb = idleKb;
  const timer = setInterval(() => void readStatusKb(pid, 'VmRSS').then((kb) => (peakKb = Math.max(peakKb, kb))), 20);
  try {
    // Resetting the kernel's high-water mark lets VmHWM catch peaks between samples.
    await writeFile(`/proc/${pid}/clear_refs`, '5').catch(() => undefined);
    await load();
    peakKb = Math.max(peakKb, await readStatusKb(pid, 'VmHWM'));
  } finally {
    clearInterval(timer);
  }
  return (peakKb - idleKb) / 1024;
}

/** Median latency (ms, microsecond resolution) of `count` sequential requests on one kept-alive connection. */
async function measureP50Ms(target: { url: string; headers: Record<string, string> }, body: string, count: number): Promise<number> {
  const dispatcher = new Agent({ connections: 1 });
  const samples: number[] = [];
  try {
    for (let i = 0; i < count + 50; i += 1) {
      const started = process.hrtime.bigint();
      const res = await request(target.url, { method: 'POST', headers: target.headers, body, dispatcher });
      await res.body.arrayBuffer();
      if (res.statusCode !== 200) throw new Error(`latency run: status ${res.statusCode}`);
      if (i >= 50) samples.push(Number(process.hrtime.bigint() - started) / 1e6); // the first 50 warm up
    }
  } finally {
    await dispatcher.close();
  }
  return median(samples);
}

async function main(): Promise<void> {
  const fakeProc = spawnTs('bench/fake-upstream-process.ts', []);
  const fakeBase = await firstJsonLine(fakeProc, (v) => (typeof v.baseUrl === 'string' ? v.baseUrl : undefined));
  const fakeLines = createInterface({ input: fakeProc.stdout! })[Symbol.asyncIterator]();
  const setImageBytes = async (imageBytes: number) => {
    fakeProc.stdin!.write(JSON.stringify({ imageBytes }) + '\n');
    await fakeLines.next();
  };

  const dataDir = await mkdtemp(join(tmpdir(), 'cig-bench-'));
  const gw = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'src/main.ts', 'start', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0'], {
    env: { ...process.env, CODEX_UPSTREAM_BASE_URL: fakeBase, LOG_LEVEL: 'warn', MAX_UPLOAD_FILE_BYTES: String(32 * MiB), MAX_UPLOAD_TOTAL_BYTES: String(40 * MiB) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const info = await (async () => {
    for (let i = 0; i < 600; i += 1) {
      try {
        return JSON.parse(await readFile(join(dataDir, 'instance.json'), 'utf8')) as { gatewayUrl: string; adminUrl: string };
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error('gateway did not start');
  })();
  gw.stdout!.resume();
  const admin = createAdminClient({ baseUrl: info.adminUrl, token: (await readFile(join(dataDir, 'admin-token'), 'utf8')).trim() });
  await admin.accounts.import({ auth: makeCodexAuthJson({ accountId: 'bench-1' }), name: 'bench-1', imageConcurrency: 1024 });
  const { secret } = await admin.keys.create({ name: 'bench' });
  const body = JSON.stringify({ prompt: 'a benchmark fox', model: 'gpt-image-2' });
  const gatewayTarget = { url: `${info.gatewayUrl}/v1/images/generations`, headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' } };
  const directTarget = {
    url: `${fakeBase}/images/generations`,
    headers: { authorization: `Bearer ${makeCodexJwt({ accountId: 'bench-1' })}`, 'chatgpt-account-id': 'bench-1', 'content-type': 'application/json', 'user-agent': 'codex_cli_rs/0.142.0', originator: 'codex_cli_rs' },
  };
  const cannon = async (target: typeof gatewayTarget, connections: number) => {
    const r = await autocannon({ ...target, method: 'POST', body, connections, duration: DURATION_S });
    if (r.non2xx > 0 || r.errors > 0) throw new Error(`load run had ${r.non2xx} non-2xx and ${r.errors} errors`);
    return r;
  };

  await setImageBytes(0);
  await cannon(gatewayTarget, 10); // warm-up (JIT, connection pools)
  const ratios: number[] = [];
  const addedP50: number[] = [];
  const gwRps: number[] = [];
  const directRps: number[] = [];
  for (let i = 0; i < RUNS; i += 1) {
    const direct = await cannon(directTarget, 50);
    const viaGateway = await cannon(gatewayTarget, 50);
    directRps.push(direct.requests.average);
    gwRps.push(viaGateway.requests.average);
    ratios.push(viaGateway.requests.average / direct.requests.average);
    const directP50 = await measureP50Ms(directTarget, body, 1000);
    const gatewayP50 = await measureP50Ms(gatewayTarget, body, 1000);
    addedP50.push(gatewayP50 - directP50);
  }

  const pid = gw.pid!;
  await setImageBytes(3 * MiB); // base64 of 3 MiB ≈ 4 MiB per response
  const largeResponses: number[] = [];
  for (let i = 0; i < RUNS; i += 1) {
    largeResponses.push(
      await measureRssGrowthMb(pid, async () => {
        await Promise.all(
          Array.from({ length: 32 }, async () => {
            const res = await request(gatewayTarget.url, { method: 'POST', headers: gatewayTarget.headers, body });
            let bytes = 0;
            for await (const chunk of res.body) bytes += (chunk as Buffer).length;
            if (res.statusCode !== 200 || bytes < 4 * MiB) throw new Error(`large response: ${res.statusCode}, ${bytes} bytes`);
          }),
        );
      }),
    );
  }

  await setImageBytes(0);
  const upload = padImage(makePng(1, 1), 20 * MiB);
  const largeUploads: number[] = [];
  for (let i = 0; i < RUNS; i += 1) {
    largeUploads.push(
      await measureRssGrowthMb(pid, async () => {
        await Promise.all(
          Array.from({ length: 16 }, async (_, n) => {
            const form = new FormData();
            form.append('prompt', `edit ${n}`);
            form.append('image', new Blob([new Uint8Array(upload)], { type: 'image/png' }), 'big.png');
            const res = await fetch(`${info.gatewayUrl}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${secret}` }, body: form });
            await res.arrayBuffer();
            if (res.status !== 200) throw new Error(`large upload: ${res.status}`);
          }),
        );
      }),
    );
  }

  // For contrast (and to show the measurement sees growth when there is some): JSON edits carry their
  // images inside the JSON document, which has to be held whole to be parsed.
  const jsonEditBody = JSON.stringify({ prompt: 'json edit', images: [`data:image/png;base64,${padImage(makePng(1, 1), 15 * MiB).toString('base64')}`] });
  const jsonEdits: number[] = [];
  for (let i = 0; i < RUNS; i += 1) {
    jsonEdits.push(
      await measureRssGrowthMb(pid, async () => {
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            const res = await request(`${info.gatewayUrl}/v1/images/edits`, { method: 'POST', headers: gatewayTarget.headers, body: jsonEditBody });
            await res.body.arrayBuffer();
            if (res.statusCode !== 200) throw new Error(`json edit: ${res.statusCode}`);
          }),
        );
      }),
    );
  }

  const fmt = (n: number, digits = 2) => n.toFixed(digits);
  console.log(`runs: ${RUNS} x ${DURATION_S}s, medians`);
  console.log(`(a) small responses, 50 connections: gateway ${fmt(median(gwRps), 0)} req/s, direct ${fmt(median(directRps), 0)} req/s, ratio ${fmt(median(ratios))} (runs: ${ratios.map((r) => fmt(r)).join(', ')})`);
  console.log(`(a) added p50 latency at 1 connection: ${fmt(median(addedP50))} ms (target <= 2 ms; runs: ${addedP50.map((r) => fmt(r)).join(', ')})`);
  console.log(`(b) RSS growth, 32 concurrent ~4 MB responses: ${fmt(median(largeResponses), 1)} MB (target <= 96; runs: ${largeResponses.map((r) => fmt(r, 1)).join(', ')})`);
  console.log(`(b) RSS growth, 16 concurrent 20 MB multipart edits: ${fmt(median(largeUploads), 1)} MB (target <= 96; runs: ${largeUploads.map((r) => fmt(r, 1)).join(', ')})`);
  console.log(`(c) contrast, 16 concurrent JSON edits with a 20 MB data URL each (held whole by design): ${fmt(median(jsonEdits), 1)} MB (runs: ${jsonEdits.map((r) => fmt(r, 1)).join(', ')})`);

  gw.kill('SIGTERM');
  fakeProc.stdin!.end();
  await new Promise((r) => gw.once('close', r));
  await rm(dataDir, { recursive: true, force: true });
}

await main();
