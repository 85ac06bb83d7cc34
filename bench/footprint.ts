/**
 * Footprint sections of `npm run bench`: what the gateway costs at rest, and per request it holds
 * open. Each process runs `entry`, the compiled server that run.ts builds (one esbuild bundle of src/,
 * as the tests spawn it), not the TypeScript source through tsx, whose loader alone costs about 80 MB.
 *  (g) `start` on an empty data directory: time until ready and idle RSS; the same after a restart;
 *  (h) `serve` on Postgres: idle RSS (needs the Postgres server binaries, as the tests do);
 *  (i) N concurrent 20-second generations through one `start`: all must succeed; RSS growth per
 *      request in flight. N is 10,000, or what the process's open-file limit allows (each request
 *      holds a client and an upstream socket), which the figure then names. (l) holds the same load
 *      through the bare proxies of bench/floor-proxy.mjs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Agent, request } from 'undici';
import { createAdminClient } from '../src/control/admin-client.js';
import { makeCodexAuthJson } from '../test/support/jwt.js';
import { startPostgresCluster } from '../test/support/postgres.js';

const PROMPT_BODY = JSON.stringify({ prompt: 'a footprint fox', model: 'gpt-image-2' });
/** BENCH_CONCURRENCY lowers it for a quick look. */
const TARGET_CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 10_000);
/** Sockets and files a process holds besides its requests' (listeners, logs, the database, the pool's spares). */
const FD_HEADROOM = 200;
/** How many requests join the load every 100 ms. */
const RAMP_PER_100MS = 500;

/** A figure of /proc/<pid>/status, in kB: the resident set now (VmRSS) or its high-water mark (VmHWM). */
export const readStatusKb = async (pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
const readRssKb = (pid: number): Promise<number> => readStatusKb(pid, 'VmRSS');

/** RSS once the process has been quiet for a moment (timers, the first snapshot poll and GC settle). */
async function settledRssMb(pid: number): Promise<number> {
  await new Promise((r) => setTimeout(r, 3000));
  return (await readRssKb(pid)) / 1024;
}

/** This process's open-file limit (children inherit it); the kernel refuses raising the hard one here. */
async function openFileLimit(): Promise<number> {
  const m = /Max open files\s+(\d+)/.exec(await readFile('/proc/self/limits', 'utf8'));
  return Number(m?.[1] ?? 1024);
}

interface Server {
  child: ChildProcess;
  /** Resolves with the first log line (parsed) whose `msg` is `msg`, past or future. */
  logged(msg: string): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** Spawns the server and keeps reading its log to the end, so a full pipe never stalls it. */
function spawnServer(entry: string, args: string[], env: Record<string, string>): Server {
  const child = spawn(process.execPath, [entry, ...args], { env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const seen = new Map<string, Record<string, unknown>>();
  const waiting = new Map<string, (entry: Record<string, unknown>) => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return; // not JSON
    }
    if (typeof entry.msg !== 'string' || seen.has(entry.msg)) return;
    seen.set(entry.msg, entry);
    waiting.get(entry.msg)?.(entry);
  });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`${args[0]} exited (${code}) early`))));
  exited.catch(() => undefined);
  return {
    child,
    logged: (msg) => {
      const found = seen.get(msg);
      return found ? Promise.resolve(found) : Promise.race([new Promise<Record<string, unknown>>((resolve) => waiting.set(msg, resolve)), exited]);
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('close', r));
    },
  };
}

/** `start` on `dataDir` until it says it started; ms from spawn to that line. */
async function startEmbedded(entry: string, dataDir: string, env: Record<string, string> = {}) {
  const started = process.hrtime.bigint();
  const server = spawnServer(entry, ['start', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0'], env);
  const line = await server.logged('codex-image-gateway started');
  const readyMs = Number(process.hrtime.bigint() - started) / 1e6;
  return { server, readyMs, gatewayUrl: line.gatewayUrl as string, adminUrl: line.adminUrl as string };
}

/** (g): first start and restart of `start` on a new data directory, `runs` times. */
export async function measureEmbeddedStart(entry: string, runs: number) {
  const result = { firstMs: [] as number[], firstRssMb: [] as number[], restartMs: [] as number[], restartRssMb: [] as number[] };
  for (let i = 0; i < runs; i += 1) {
    const dataDir = await mkdtemp(join(tmpdir(), 'cig-bench-footprint-'));
    try {
      const first = await startEmbedded(entry, dataDir);
      result.firstMs.push(first.readyMs);
      result.firstRssMb.push(await settledRssMb(first.server.child.pid!));
      await first.server.stop();
      const again = await startEmbedded(entry, dataDir);
      result.restartMs.push(again.readyMs);
      result.restartRssMb.push(await settledRssMb(again.server.child.pid!));
      await again.server.stop();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }
  return result;
}

/** (h): `serve` on a migrated Postgres database, idle, `runs` times; null without Postgres. */
export async function measureServeIdle(entry: string, runs: number): Promise<number[] | null> {
  const pg = await startPostgresCluster();
  if (!pg) return null;
  try {
    const env = { DATABASE_URL: pg.url, CODEX_IMAGE_GATEWAY_MASTER_KEY: randomBytes(32).toString('hex') };
    const migrate = spawnServer(entry, ['migrate'], env);
    await new Promise((r) => migrate.child.once('close', r));
    const out: number[] = [];
    for (let i = 0; i < runs; i += 1) {
      const dataDir = await mkdtemp(join(tmpdir(), 'cig-bench-serve-'));
      const server = spawnServer(entry, ['serve', '--listen', '127.0.0.1:0'], { ...env, CODEX_IMAGE_GATEWAY_DATA_DIR: dataDir });
      try {
        await server.logged('codex-image-gateway data plane started');
        out.push(await settledRssMb(server.child.pid!));
      } finally {
        await server.stop();
        await rm(dataDir, { recursive: true, force: true });
      }
    }
    return out;
  } finally {
    await pg.stop();
  }
}

/** How many requests (i) and (l) hold at once: 10,000, or what the open-file limit allows (two sockets each). */
export async function heldRequestCount(): Promise<number> {
  return Math.min(TARGET_CONCURRENCY, Math.floor(((await openFileLimit()) - FD_HEADROOM) / 2));
}

/**
 * (i): `count` generations at once through a fresh `start`, against an upstream that answers each
 * after 20 s.
 */
export async function measureConcurrentGenerations(entry: string, upstreamBaseUrl: string) {
  const count = await heldRequestCount();
  const dataDir = await mkdtemp(join(tmpdir(), 'cig-bench-concurrency-'));
  const gw = await startEmbedded(entry, dataDir, { CODEX_UPSTREAM_BASE_URL: upstreamBaseUrl }).catch(async (err) => {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  });
  try {
    const admin = createAdminClient({ baseUrl: gw.adminUrl, token: (await readFile(join(dataDir, 'admin-token'), 'utf8')).trim() });
    // Enough accounts at their highest image concurrency (1,024) that the pool never waits.
    for (let a = 0; a * 1024 < count; a += 1) {
      await admin.accounts.import({ auth: makeCodexAuthJson({ accountId: `bench-c${a}` }), name: `bench-c${a}`, imageConcurrency: 1024 });
    }
    const { secret } = await admin.keys.create({ name: 'bench-concurrency' });
    const target = { url: `${gw.gatewayUrl}/v1/images/generations`, headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' } };
    return { count, ...(await measureHeldRequests(gw.server.child.pid!, target, count)) };
  } finally {
    await gw.server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/**
 * `count` requests to `target` at once, which the upstream behind it answers after 20 s: the RSS
 * growth of process `pid` over its idle while all are held (before the first answer), per request
 * too, its peak while answering, and how the answers went.
 */
export async function measureHeldRequests(pid: number, target: { url: string; headers: Record<string, string> }, count: number) {
  const clients = new Agent({ connections: null, keepAliveTimeout: 60_000 });
  try {
    const idleKb = await readRssKb(pid);
    // Requests join at RAMP_PER_100MS every 100 ms (a burst of thousands of connects in the same
    // millisecond overflows the listen backlog and retries for seconds): all are in flight long
    // before the first 20 s generation ends, and the plateau between is what a held request costs.
    let firstAnswerAt = 0;
    let plateauPeakKb = idleKb;
    let peakKb = idleKb;
    const sampler = setInterval(
      () =>
        void readRssKb(pid).then((kb) => {
          peakKb = Math.max(peakKb, kb);
          if (firstAnswerAt === 0 && Date.now() >= plateauFrom) plateauPeakKb = Math.max(plateauPeakKb, kb);
        }),
      100,
    );
    const statuses = new Map<string, number>();
    const started = Date.now();
    const plateauFrom = started + Math.ceil(count / RAMP_PER_100MS) * 100 + 2000;
    await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        await new Promise((r) => setTimeout(r, Math.floor(i / RAMP_PER_100MS) * 100));
        const outcome = await request(target.url, {
          method: 'POST',
          headers: target.headers,
          body: PROMPT_BODY,
          dispatcher: clients,
          headersTimeout: 120_000,
          bodyTimeout: 120_000,
        }).then(
          async (res) => {
            firstAnswerAt ||= Date.now();
            await res.body.arrayBuffer();
            return String(res.statusCode);
          },
          (err: Error & { code?: string }) => err.code ?? err.message,
        );
        statuses.set(outcome, (statuses.get(outcome) ?? 0) + 1);
      }),
    );
    clearInterval(sampler);
    if (firstAnswerAt < plateauFrom) throw new Error('the first answer came before every request was in flight: lengthen the generations');
    return {
      ok: statuses.get('200') ?? 0,
      statuses,
      wallS: (Date.now() - started) / 1000,
      plateauGrowthMb: (plateauPeakKb - idleKb) / 1024,
      perRequestKb: (plateauPeakKb - idleKb) / count,
      peakGrowthMb: (peakKb - idleKb) / 1024,
    };
  } finally {
    await clients.close();
  }
}
