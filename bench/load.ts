/**
 * The loads of `npm run bench` and how they are measured, shared by its sections: latency at one
 * connection, req/s with autocannon or wrk, CPU time per request from /proc, and the side-by-side
 * runs that hold a target's figures against the fake called directly in the same run.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import { Agent, request } from 'undici';
import { makeCodexJwt } from '../test/support/jwt.js';

export const RUNS = Number(process.env.BENCH_RUNS ?? 3);
export const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
export const MiB = 1024 * 1024;
export const PROMPT_BODY = JSON.stringify({ prompt: 'a benchmark fox', model: 'gpt-image-2' });

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const fmt = (n: number, digits = 2) => n.toFixed(digits);
export const fmtRuns = (xs: number[], digits = 2) => xs.map((x) => fmt(x, digits)).join(', ');

/** Where a load is sent. */
export interface Target {
  url: string;
  headers: Record<string, string>;
}

/** A process under load (a gateway, or a bare proxy in (l)): its pid, for its CPU time, and its generations endpoint. */
export interface LoadTarget {
  pid: number;
  generations: Target;
}

/** The first line a child process prints that `match` accepts, parsed as JSON (how the bench's helper processes say they are ready). */
export async function firstJsonLine<T>(child: ChildProcess, match: (v: Record<string, unknown>) => T | undefined): Promise<T> {
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

/** The fake upstream in its own process: its address and pid, and how to change what it answers. */
export interface FakeProcess {
  baseUrl: string;
  pid: number;
  setBehavior(behavior: { imageBytes: number; delayMs?: number }): Promise<void>;
  stop(): void;
}

/** The fake upstream in its own process; `setBehavior` changes what every account answers. */
export async function startFakeProcess(): Promise<FakeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/fake-upstream-process.ts'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const baseUrl = await firstJsonLine(child, (v) => (typeof v.baseUrl === 'string' ? v.baseUrl : undefined));
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return {
    baseUrl,
    pid: child.pid!,
    async setBehavior(behavior: { imageBytes: number; delayMs?: number }) {
      child.stdin!.write(`${JSON.stringify(behavior)}\n`);
      await lines.next();
    },
    stop() {
      child.stdin!.end();
    },
  };
}

/** CPU time (user + system, ms) the process has used so far, from /proc/<pid>/stat. */
export async function readCpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at index 2; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks of 10 ms (USER_HZ = 100)
}

/** Requests sent before a latency run's measured ones (connection, JIT), not counted. */
export const LATENCY_WARMUP = 50;

/** Median latency (ms, microsecond resolution) of `count` sequential requests on one kept-alive connection, after LATENCY_WARMUP. */
export async function measureP50Ms(target: Target, count: number): Promise<number> {
  const dispatcher = new Agent({ connections: 1 });
  const samples: number[] = [];
  try {
    for (let i = 0; i < count + LATENCY_WARMUP; i += 1) {
      const started = process.hrtime.bigint();
      const res = await request(target.url, { method: 'POST', headers: target.headers, body: PROMPT_BODY, dispatcher });
      await res.body.arrayBuffer();
      if (res.statusCode !== 200) throw new Error(`latency run: status ${res.statusCode}`);
      if (i >= LATENCY_WARMUP) samples.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  } finally {
    await dispatcher.close();
  }
  return median(samples);
}

export async function cannon(target: Target, connections: number) {
  const r = await autocannon({ ...target, method: 'POST', body: PROMPT_BODY, connections, duration: DURATION_S });
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`load run had ${r.non2xx} non-2xx and ${r.errors} errors`);
  return r;
}

/** wrk's path when it is installed (`apt-get install wrk`); null otherwise. */
export const WRK = await promisify(execFile)('sh', ['-c', 'command -v wrk']).then(
  (r) => r.stdout.trim() || null,
  () => null,
);

/**
 * req/s of `target` at `connections` for DURATION_S, with wrk when it is installed, else autocannon.
 * Large bodies need wrk: autocannon parses every response in JavaScript and, on 4 MB bodies, is
 * itself the bottleneck of the direct run (about 100 req/s where wrk reaches 400), which would flatter
 * the gateway's ratio.
 */
export async function measureRps(target: Target, connections: number): Promise<number> {
  if (!WRK) return (await cannon(target, connections)).requests.average;
  const dir = await mkdtemp(join(tmpdir(), 'cig-wrk-'));
  try {
    const script = join(dir, 'post.lua');
    const headers = Object.entries(target.headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`);
    await writeFile(script, ['wrk.method = "POST"', `wrk.body = ${JSON.stringify(PROMPT_BODY)}`, ...headers].join('\n'));
    const args = ['-t1', `-c${connections}`, `-d${DURATION_S}s`, '-s', script, target.url];
    const { stdout } = await promisify(execFile)(WRK, args);
    const failed = /Non-2xx or 3xx responses: (\d+)|Socket errors: .*?(\d+)/.exec(stdout);
    if (failed) throw new Error(`wrk run had failures: ${failed[0]}`);
    return Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The fake's generations endpoint, called the way the gateway calls it: the baseline of (a) and (f). */
export const directTarget = (fakeBaseUrl: string): Target => ({
  url: `${fakeBaseUrl}/images/generations`,
  headers: {
    authorization: `Bearer ${makeCodexJwt({ accountId: 'bench-1' })}`,
    'chatgpt-account-id': 'bench-1',
    'content-type': 'application/json',
    'user-agent': 'codex_cli_rs/0.142.0',
    originator: 'codex_cli_rs',
  },
});

/** One target's share of a small-response run: req/s at 50 connections and p50 at 1 connection. */
export interface SmallRun {
  rps: number;
  p50Ms: number;
}

/** A gateway's share, plus its CPU time per request at 50 connections. */
export interface GatewaySmallRun extends SmallRun {
  cpuMs: number;
}

/** Measured requests of each latency run. */
export const LATENCY_REQUESTS = 1000;

/** One gateway's share of a run: its req/s at 50 connections, the CPU time it used per request then, its p50. */
async function measureGatewaySmallRun(gw: LoadTarget): Promise<GatewaySmallRun> {
  const cpuBefore = await readCpuMs(gw.pid);
  const r = await cannon(gw.generations, 50);
  const cpuMs = ((await readCpuMs(gw.pid)) - cpuBefore) / r.requests.total;
  return { rps: r.requests.average, cpuMs, p50Ms: await measureP50Ms(gw.generations, LATENCY_REQUESTS) };
}

/**
 * RUNS runs of small responses, the fake called directly and then each target (a gateway, or a bare
 * proxy in (l)), side by side in each run; the targets take turns going first, so a drift of the machine's load within a run
 * does not always favour the same one. Returns the runs of the fake and of each target, in order.
 */
export async function measureSmallSideBySide(fakeBaseUrl: string, gateways: readonly LoadTarget[]) {
  const direct = directTarget(fakeBaseUrl);
  const directRuns: SmallRun[] = [];
  const gatewayRuns: GatewaySmallRun[][] = gateways.map(() => []);
  for (const gw of gateways) await cannon(gw.generations, 10); // warm-up (JIT, connection pools)
  for (let i = 0; i < RUNS; i += 1) {
    const rps = (await cannon(direct, 50)).requests.average;
    for (let k = 0; k < gateways.length; k += 1) {
      const g = (i + k) % gateways.length;
      gatewayRuns[g]!.push(await measureGatewaySmallRun(gateways[g]!));
    }
    directRuns.push({ rps, p50Ms: await measureP50Ms(direct, LATENCY_REQUESTS) });
  }
  return { directRuns, gatewayRuns };
}

/** A gateway's figures against the fake's, run by run: req/s ratio, added p50 (ms), CPU per request (ms). */
export const compareToDirect = (directRuns: SmallRun[], runs: GatewaySmallRun[]) => ({
  ratios: runs.map((g, i) => g.rps / directRuns[i]!.rps),
  gatewayRps: runs.map((g) => g.rps),
  directRps: directRuns.map((d) => d.rps),
  addedP50: runs.map((g, i) => g.p50Ms - directRuns[i]!.p50Ms),
  cpuMs: runs.map((g) => g.cpuMs),
});

/** req/s of `target` at 16 connections for one run, and the CPU time `pid` used per request in it. */
async function runLarge(target: Target, pid: number) {
  const cpuBefore = await readCpuMs(pid);
  const rps = await measureRps(target, 16);
  return { rps, cpuMs: ((await readCpuMs(pid)) - cpuBefore) / (rps * DURATION_S) };
}

/**
 * RUNS runs of ~4 MB responses (the fake set to answer them) at 16 connections: the fake called
 * directly, then each target, side by side in each run. Returns the fake's runs and each target's.
 */
export async function measureLargeSideBySide(fake: { baseUrl: string; pid: number }, targets: readonly LoadTarget[]) {
  const direct = directTarget(fake.baseUrl);
  const directRuns: { rps: number; cpuMs: number }[] = [];
  const targetRuns: { rps: number; cpuMs: number }[][] = targets.map(() => []);
  for (const t of targets) await measureRps(t.generations, 16); // warm-up (JIT, connection pools)
  for (let i = 0; i < RUNS; i += 1) {
    directRuns.push(await runLarge(direct, fake.pid));
    for (const [k, t] of targets.entries()) targetRuns[k]!.push(await runLarge(t.generations, t.pid));
  }
  return { directRuns, targetRuns };
}
