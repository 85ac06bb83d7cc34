/**
 * Benchmark (`npm run bench`): prints figures, passes or fails nothing. Everything runs on loopback:
 * the fake Codex upstream in one child process, the gateway (`start`, embedded database, compiled
 * as a release runs it: see gatewayEntry) in another, load from this process (or wrk, for (f)). Each figure is the median of BENCH_RUNS runs (default 3).
 *  (a) small responses at 50 connections: gateway req/s ÷ direct-to-fake req/s, the gateway process's
 *      CPU time per request in that run, and the p50 latency the gateway adds at 1 connection;
 *  (b) peak RSS growth of the gateway process above idle while serving 32 concurrent ~4 MB responses,
 *      the same as `stream: true` completed events, and while receiving 16 concurrent 20 MB
 *      multipart edits;
 *  (c) the same growth for 16 concurrent JSON edits carrying a 20 MB data URL each (parsed as they
 *      arrive, the image spooled like a multipart file);
 *  (d) `n: 4` served by fan-out against 2-second generations: wall time of one request ÷ wall time of
 *      an `n: 1` request (the account has free capacity, so the four calls run in parallel);
 *  (e) the same growth for 32 concurrent 40 MB JSON edit bodies under the default body budget
 *      (MAX_BODY_BYTES_IN_FLIGHT 256 MiB), sent with a Content-Length and sent chunked; the budget
 *      refuses what it cannot take with a 503, so the answers are counted too;
 *  (f) large responses (one ~4 MB b64_json image each) at 16 connections: gateway req/s ÷
 *      direct-to-fake req/s, side by side in each run;
 *  (g), (h), (i): the footprint sections of bench/footprint.ts (idle RSS and first start of `start`,
 *      idle RSS of `serve` on Postgres, RSS per request held open by 10,000 concurrent generations);
 *  (j) (a)'s figures for a gateway with REDIS_URL (one throwaway redis-server) next to one without,
 *      against the same fake in each run: the p50 Redis adds at 1 connection, both ratios, and the
 *      script calls per request Redis served;
 *  (k) the usage rollups (bench/usage-rollups.ts): one flush of 10,000 distinct rollup rows on
 *      PGlite, and the rollups' share of a request's usage bookkeeping next to the p50 the gateway
 *      adds at 1 connection in the same run;
 *  (l) floors (bench/floors.ts): (a), (f) and (i)'s loads through a bare node:http proxy and a TCP
 *      relay (bench/floor-proxy.mjs), side by side with the gateway: how much of each figure Node's
 *      own stack and the machine already take.
 * `npm run bench -- c e` runs only the named sections (a to l); by default all of them.
 * Every memory run uses a fresh gateway process: memory a previous load left committed would
 * otherwise raise the idle baseline and hide growth.
 * BENCH_CPU_PROF=<dir> runs each gateway under `node --cpu-prof`, writing one .cpuprofile per
 * gateway process into <dir> when it stops (see bench/README.md for reading them).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { createAdminClient } from '../src/control/admin-client.js';
import { makeCodexAuthJson } from '../test/support/jwt.js';
import { makePng, padImage } from '../test/support/images.js';
import { buildCliBundle, type CliBundle } from '../test/support/cli-bundle.js';
import { findRedisServer, startRedis } from '../test/support/redis.js';
import { reportFloors } from './floors.js';
import { measureConcurrentGenerations, measureEmbeddedStart, measureServeIdle, readStatusKb } from './footprint.js';
import {
  type GatewaySmallRun,
  DURATION_S,
  LATENCY_REQUESTS,
  LATENCY_WARMUP,
  MiB,
  PROMPT_BODY,
  RUNS,
  type Target,
  WRK,
  compareToDirect,
  directTarget,
  fmt,
  fmtRuns,
  startFakeProcess,
  measureLargeSideBySide,
  measureP50Ms,
  measureSmallSideBySide,
  median,
} from './load.js';
import { measureRollupFlush, measureRollupRequestCost } from './usage-rollups.js';

const CPU_PROF_DIR = process.env.BENCH_CPU_PROF;
const SECTIONS = new Set(process.argv.slice(2));
const runs = (section: string) => SECTIONS.size === 0 || SECTIONS.has(section);

interface Gateway {
  pid: number;
  gatewayUrl: string;
  secret: string;
  generations: Target;
  stop(): Promise<void>;
}

/**
 * Gateway settings of every run: no body budget, so (b) and (c) measure what their 16 concurrent
 * bodies cost when all of them are read at once; (e) puts the default budget back.
 */
const BENCH_ENV = { LOG_LEVEL: 'warn', MAX_UPLOAD_FILE_BYTES: String(32 * MiB), MAX_UPLOAD_TOTAL_BYTES: String(40 * MiB), MAX_BODY_BYTES_IN_FLIGHT: '0' };

/**
 * The gateway runs as compiled JavaScript, as a release does (dist/, built by tsc), not through tsx:
 * tsx compiles with esbuild's keepNames, which wraps every function made at run time in a `__name`
 * call (Object.defineProperty), a few percent of a small request's CPU that no installed gateway
 * pays. The test suite's esbuild bundle of src/ is that compiled form, built once per bench run.
 */
let bundle: CliBundle | null = null;
const gatewayEntry = (): string => {
  if (!bundle) throw new Error('the gateway bundle is not built');
  return bundle.entry;
};

/** A fresh `start` process with one account and one key, warmed up with a few small requests. */
async function startGateway(upstreamBaseUrl: string, env: Record<string, string> = {}): Promise<Gateway> {
  const dataDir = await mkdtemp(join(tmpdir(), 'cig-bench-'));
  const child = spawn(
    process.execPath,
    [
      '--expose-gc',
      ...(CPU_PROF_DIR ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF_DIR] : []),
      gatewayEntry(),
      'start',
      '--data-dir',
      dataDir,
      '--listen',
      '127.0.0.1:0',
      '--admin-listen',
      '127.0.0.1:0',
    ],
    {
      env: { ...process.env, CODEX_UPSTREAM_BASE_URL: upstreamBaseUrl, ...BENCH_ENV, ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  let info: { gatewayUrl: string; adminUrl: string } | null = null;
  for (let i = 0; i < 600 && !info; i += 1) {
    info = await readFile(join(dataDir, 'instance.json'), 'utf8').then(
      (t) => JSON.parse(t) as { gatewayUrl: string; adminUrl: string },
      () => null,
    );
    if (!info) await new Promise((r) => setTimeout(r, 100));
  }
  if (!info) throw new Error('gateway did not start');
  const admin = createAdminClient({ baseUrl: info.adminUrl, token: (await readFile(join(dataDir, 'admin-token'), 'utf8')).trim() });
  await admin.accounts.import({ auth: makeCodexAuthJson({ accountId: 'bench-1' }), name: 'bench-1', imageConcurrency: 1024 });
  const { secret } = await admin.keys.create({ name: 'bench' });
  const generations = { url: `${info.gatewayUrl}/v1/images/generations`, headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' } };
  for (let i = 0; i < 20; i += 1)
    await (await request(generations.url, { method: 'POST', headers: generations.headers, body: PROMPT_BODY })).body.arrayBuffer();
  return {
    pid: child.pid!,
    gatewayUrl: info.gatewayUrl,
    secret,
    generations,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('close', r));
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Runs `load` and returns the gateway's peak RSS growth in MB over its idle RSS just before. */
async function measureRssGrowthMb(pid: number, load: () => Promise<void>): Promise<number> {
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

/** (a): throughput ratio and added p50 latency, gateway and fake measured side by side in each run. */
async function measureSmallResponses(fakeBaseUrl: string) {
  const gw = await startGateway(fakeBaseUrl);
  try {
    const { directRuns, gatewayRuns } = await measureSmallSideBySide(fakeBaseUrl, [gw]);
    return compareToDirect(directRuns, gatewayRuns[0]!);
  } finally {
    await gw.stop();
  }
}

/** Script calls (EVALSHA and EVAL) Redis has served so far, from INFO commandstats. */
async function readScriptCalls(redis: Redis): Promise<number> {
  const stats = await redis.info('commandstats');
  let calls = 0;
  for (const m of stats.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(m[1]);
  return calls;
}

/**
 * Script calls Redis serves per request of `gw`, over `count` sequential requests (and their
 * warm-up). The last request's release may still be on its way when the count is read, and a lease
 * renewal (every third of the TTL) may fall in: an error of a call or two in hundreds.
 */
async function measureScriptCallsPerRequest(redis: Redis, gw: Gateway, count: number): Promise<number> {
  const before = await readScriptCalls(redis);
  await measureP50Ms(gw.generations, count);
  return ((await readScriptCalls(redis)) - before) / (count + LATENCY_WARMUP);
}

/**
 * (j): small responses through a gateway without Redis and one with REDIS_URL (one throwaway
 * redis-server for the section, no persistence), side by side against the same fake in each run.
 * The key has no gates, so the Redis-mode gateway's cost is the account take every request pays.
 * Also counts the script calls Redis served per request of the Redis-mode gateway: a figure near 0
 * would mean it fell back to its local limits, and the section fails then.
 */
async function measureRedisMode(fakeBaseUrl: string, redisBin: string) {
  const server = await startRedis(redisBin);
  const stats = new Redis(server.url);
  const gateways: Gateway[] = [];
  try {
    gateways.push(await startGateway(fakeBaseUrl), await startGateway(fakeBaseUrl, { REDIS_URL: server.url }));
    const { directRuns, gatewayRuns } = await measureSmallSideBySide(fakeBaseUrl, gateways);
    const [withoutRuns, withRuns] = gatewayRuns as [GatewaySmallRun[], GatewaySmallRun[]];
    const callsPerRequest = await measureScriptCallsPerRequest(stats, gateways[1]!, 200);
    if (callsPerRequest < 1) throw new Error(`the Redis-mode gateway made ${fmt(callsPerRequest)} script calls per request: it did not use Redis`);
    return {
      withoutRedis: compareToDirect(directRuns, withoutRuns),
      withRedis: compareToDirect(directRuns, withRuns),
      addedByRedis: withRuns.map((r, i) => r.p50Ms - withoutRuns[i]!.p50Ms),
      callsPerRequest,
    };
  } finally {
    for (const gw of gateways) await gw.stop();
    stats.disconnect();
    await server.close();
  }
}

/** (f): req/s of ~4 MB responses at 16 connections, gateway ÷ direct, side by side in each run. */
async function measureLargeThroughput(fake: { baseUrl: string; pid: number }) {
  const gw = await startGateway(fake.baseUrl);
  try {
    const { directRuns, targetRuns } = await measureLargeSideBySide(fake, [gw]);
    const runs = targetRuns[0]!;
    return {
      ratios: runs.map((g, i) => g.rps / directRuns[i]!.rps),
      gatewayRps: runs.map((g) => g.rps),
      directRps: directRuns.map((d) => d.rps),
      gatewayCpuMs: runs.map((g) => g.cpuMs),
      fakeCpuMs: directRuns.map((d) => d.cpuMs),
    };
  } finally {
    await gw.stop();
  }
}

/** RUNS fresh gateways, each measured once under `load`. */
async function measureFresh(fakeBaseUrl: string, load: (gw: Gateway) => Promise<void>, env: Record<string, string> = {}): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < RUNS; i += 1) {
    const gw = await startGateway(fakeBaseUrl, env);
    try {
      out.push(await measureRssGrowthMb(gw.pid, () => load(gw)));
    } finally {
      await gw.stop();
    }
  }
  return out;
}

const largeResponses = (gw: Gateway) =>
  Promise.all(
    Array.from({ length: 32 }, async () => {
      const res = await request(gw.generations.url, { method: 'POST', headers: gw.generations.headers, body: PROMPT_BODY });
      let bytes = 0;
      for await (const chunk of res.body) bytes += (chunk as Buffer).length;
      if (res.statusCode !== 200 || bytes < 4 * MiB) throw new Error(`large response: ${res.statusCode}, ${bytes} bytes`);
    }),
  ).then(() => undefined);

/** 32 concurrent `stream: true` generations whose completed event carries a ~4 MB b64_json. */
const largeStreams = (gw: Gateway) =>
  Promise.all(
    Array.from({ length: 32 }, async () => {
      const res = await request(gw.generations.url, {
        method: 'POST',
        headers: gw.generations.headers,
        body: JSON.stringify({ prompt: 'a streamed fox', stream: true }),
      });
      let bytes = 0;
      let tail = '';
      for await (const chunk of res.body) {
        bytes += (chunk as Buffer).length;
        tail = (tail + (chunk as Buffer).toString('latin1')).slice(-200);
      }
      if (res.statusCode !== 200 || bytes < 4 * MiB || !tail.includes('"usage"')) throw new Error(`large stream: ${res.statusCode}, ${bytes} bytes`);
    }),
  ).then(() => undefined);

const multipartEdits = (upload: Buffer) => (gw: Gateway) =>
  Promise.all(
    Array.from({ length: 16 }, async (_, n) => {
      const form = new FormData();
      form.append('prompt', `edit ${n}`);
      form.append('image', new Blob([new Uint8Array(upload)], { type: 'image/png' }), 'big.png');
      const res = await fetch(`${gw.gatewayUrl}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${gw.secret}` }, body: form });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`large upload: ${res.status}`);
    }),
  ).then(() => undefined);

const jsonEdits = (body: string) => (gw: Gateway) =>
  Promise.all(
    Array.from({ length: 16 }, async () => {
      const res = await request(`${gw.gatewayUrl}/v1/images/edits`, { method: 'POST', headers: gw.generations.headers, body });
      await res.body.arrayBuffer();
      if (res.statusCode !== 200) throw new Error(`json edit: ${res.statusCode}`);
    }),
  ).then(() => undefined);

/** Wall time (ms) of one generation asking for `n` images; fails unless all `n` arrive. */
async function timeGeneration(gw: Gateway, n: number): Promise<number> {
  const started = process.hrtime.bigint();
  const res = await request(gw.generations.url, { method: 'POST', headers: gw.generations.headers, body: JSON.stringify({ prompt: 'fan-out fox', n }) });
  const body = (await res.body.json()) as { data?: unknown[] };
  if (res.statusCode !== 200 || body.data?.length !== n) throw new Error(`fan-out run: status ${res.statusCode}, ${body.data?.length} images`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/** Answers to the last burst of large bodies, by status (a 503 is the body budget refusing one). */
const statusCounts = new Map<number, number>();

/** (e): 32 concurrent JSON edits of one 40 MB body, declared or chunked (sent in 256 KiB pieces). */
const largeJsonBodies = (body: Buffer, chunked: boolean) => (gw: Gateway) =>
  Promise.all(
    Array.from({ length: 32 }, async () => {
      const pieces = chunked
        ? Array.from({ length: Math.ceil(body.length / (256 * 1024)) }, (_, i) => body.subarray(i * 256 * 1024, (i + 1) * 256 * 1024))
        : null;
      const res = await request(`${gw.gatewayUrl}/v1/images/edits`, {
        method: 'POST',
        headers: gw.generations.headers,
        body: pieces ? Readable.from(pieces) : body,
      }).catch(() => null);
      await res?.body.arrayBuffer().catch(() => undefined);
      const status = res?.statusCode ?? 0; // 0: the connection was closed on a refused chunked body before its answer was read
      statusCounts.set(status, (statusCounts.get(status) ?? 0) + 1);
      if (status !== 200 && status !== 503 && status !== 0) throw new Error(`large JSON body: ${status}`);
    }),
  ).then(() => undefined);

/** Runs (e) for one way of sending and says how the answers went across all runs. */
async function measureLargeJsonBodies(fakeBaseUrl: string, body: Buffer, chunked: boolean) {
  statusCounts.clear();
  const growth = await measureFresh(fakeBaseUrl, largeJsonBodies(body, chunked), { MAX_BODY_BYTES_IN_FLIGHT: String(256 * MiB) });
  const answers = [...statusCounts]
    .sort(([a], [b]) => a - b)
    .map(([status, count]) => `${count}× ${status === 0 ? 'closed' : status}`)
    .join(', ');
  return { growth, answers };
}

/** (d): n: 4 ÷ n: 1 wall time, measured alternately on one gateway. */
async function measureFanOut(fakeBaseUrl: string) {
  const gw = await startGateway(fakeBaseUrl);
  const ratios: number[] = [];
  try {
    for (let i = 0; i < RUNS; i += 1) {
      const single = await timeGeneration(gw, 1);
      ratios.push((await timeGeneration(gw, 4)) / single);
    }
  } finally {
    await gw.stop();
  }
  return ratios;
}

/** (j)'s lines, or why it was skipped. */
async function reportRedisMode(fakeBaseUrl: string): Promise<string[]> {
  const redisBin = findRedisServer();
  if (!redisBin) return ['(j) skipped: no redis-server (apt-get install redis-server)'];
  const r = await measureRedisMode(fakeBaseUrl, redisBin);
  const modes = [
    ['without Redis', r.withoutRedis],
    ['with Redis', r.withRedis],
  ] as const;
  return [
    `(j) added p50 latency at 1 connection, with Redis − without: ${fmt(median(r.addedByRedis), 3)} ms (target <= 0.5 ms; runs: ${fmtRuns(r.addedByRedis, 3)}); over direct: without ${fmt(median(r.withoutRedis.addedP50))} ms, with ${fmt(median(r.withRedis.addedP50))} ms`,
    ...modes.map(
      ([mode, m]) =>
        `(j) small responses, 50 connections, ${mode}: gateway ${fmt(median(m.gatewayRps), 0)} req/s, direct ${fmt(median(m.directRps), 0)} req/s, ratio ${fmt(median(m.ratios))} (runs: ${fmtRuns(m.ratios)}); gateway CPU ${fmt(median(m.cpuMs), 3)} ms per request`,
    ),
    `(j) Redis script calls per request, with Redis: ${fmt(r.callsPerRequest)}`,
  ];
}

/**
 * (k)'s lines: the flush of 10,000 distinct rollup rows on PGlite, and the rollups' share of a
 * request (accumulator + journal fields) against the p50 the gateway adds over the fake at 1
 * connection, measured in the same run with (a)'s helper.
 */
async function reportUsageRollups(fakeBaseUrl: string): Promise<string[]> {
  const flush = await measureRollupFlush(RUNS);
  const perRequest = await measureRollupRequestCost(RUNS);
  const gw = await startGateway(fakeBaseUrl);
  const addedP50: number[] = [];
  try {
    for (let i = 0; i < RUNS; i += 1) {
      const gatewayP50 = await measureP50Ms(gw.generations, LATENCY_REQUESTS);
      addedP50.push(gatewayP50 - (await measureP50Ms(directTarget(fakeBaseUrl), LATENCY_REQUESTS)));
    }
  } finally {
    await gw.stop();
  }
  const rollupUs = perRequest.accumulatorUs.map((us, i) => us + perRequest.journalFieldsUs[i]!);
  const shareOfAdded = (median(rollupUs) / 1000 / median(addedP50)) * 100;
  return [
    `(k) one flush of ${flush.rows} distinct rollup rows on PGlite (key counters, rollups and journal mark in one transaction): new rows ${fmt(median(flush.insertMs), 0)} ms, all rows existing ${fmt(median(flush.updateMs), 0)} ms (target < 1000 ms; runs: ${fmtRuns(flush.insertMs, 0)} / ${fmtRuns(flush.updateMs, 0)})`,
    `(k) the rollup upsert alone, in a transaction: new rows ${fmt(median(flush.upsertInsertMs), 0)} ms, all rows existing ${fmt(median(flush.upsertUpdateMs), 0)} ms (runs: ${fmtRuns(flush.upsertInsertMs, 0)} / ${fmtRuns(flush.upsertUpdateMs, 0)})`,
    `(k) rollups per request, before the answer's last byte: ${fmt(median(rollupUs), 2)} µs (target <= 100 µs; runs: ${fmtRuns(rollupUs)}) = accumulator ${fmt(median(perRequest.accumulatorUs), 2)} µs + ${perRequest.journalFieldBytes} journal bytes ${fmt(median(perRequest.journalFieldsUs), 2)} µs; the whole usage record() ${fmt(median(perRequest.recordUs), 2)} µs`,
    `(k) that is ${fmt(shareOfAdded, 2)}% of the p50 the gateway adds at 1 connection in this run (${fmt(median(addedP50))} ms; runs: ${fmtRuns(addedP50)})`,
  ];
}

async function main(): Promise<void> {
  bundle = await buildCliBundle();
  const fake = await startFakeProcess();
  const lines: string[] = [`runs: ${RUNS} (load runs ${DURATION_S}s), medians`];
  try {
    if (runs('a')) {
      await fake.setBehavior({ imageBytes: 0 });
      const small = await measureSmallResponses(fake.baseUrl);
      lines.push(
        `(a) small responses, 50 connections: gateway ${fmt(median(small.gatewayRps), 0)} req/s, direct ${fmt(median(small.directRps), 0)} req/s, ratio ${fmt(median(small.ratios))} (target >= 0.25; runs: ${fmtRuns(small.ratios)})`,
      );
      lines.push(`(a) added p50 latency at 1 connection: ${fmt(median(small.addedP50))} ms (target <= 0.5 ms; runs: ${fmtRuns(small.addedP50)})`);
      lines.push(`(a) gateway CPU per small request at 50 connections: ${fmt(median(small.cpuMs), 3)} ms (runs: ${fmtRuns(small.cpuMs, 3)})`);
    }
    if (runs('b')) {
      await fake.setBehavior({ imageBytes: 3 * MiB }); // base64 of 3 MiB ≈ 4 MiB per response
      const responses = await measureFresh(fake.baseUrl, largeResponses);
      const streams = await measureFresh(fake.baseUrl, largeStreams);
      await fake.setBehavior({ imageBytes: 0 });
      const uploads = await measureFresh(fake.baseUrl, multipartEdits(padImage(makePng(1, 1), 20 * MiB)));
      lines.push(`(b) RSS growth, 32 concurrent ~4 MB responses: ${fmt(median(responses), 1)} MB (target <= 96; runs: ${fmtRuns(responses, 1)})`);
      lines.push(`(b) RSS growth, 32 concurrent streamed ~4 MB completed events: ${fmt(median(streams), 1)} MB (target <= 96; runs: ${fmtRuns(streams, 1)})`);
      lines.push(`(b) RSS growth, 16 concurrent 20 MB multipart edits: ${fmt(median(uploads), 1)} MB (target <= 96; runs: ${fmtRuns(uploads, 1)})`);
    }
    if (runs('c')) {
      await fake.setBehavior({ imageBytes: 0 });
      const jsonBody = JSON.stringify({ prompt: 'json edit', images: [`data:image/png;base64,${padImage(makePng(1, 1), 15 * MiB).toString('base64')}`] });
      const json = await measureFresh(fake.baseUrl, jsonEdits(jsonBody));
      lines.push(`(c) RSS growth, 16 concurrent JSON edits with a 20 MB data URL each: ${fmt(median(json), 1)} MB (target <= 96; runs: ${fmtRuns(json, 1)})`);
    }
    if (runs('d')) {
      await fake.setBehavior({ imageBytes: 0, delayMs: 2000 });
      const fanOut = await measureFanOut(fake.baseUrl);
      lines.push(`(d) n: 4 by fan-out against 2 s generations, wall time ÷ n: 1: ${fmt(median(fanOut))} (target <= 1.3; runs: ${fmtRuns(fanOut)})`);
    }
    if (runs('e')) {
      await fake.setBehavior({ imageBytes: 0 });
      // 30 MiB of image: a 40 MiB data URL, under the default MAX_JSON_BODY_BYTES (48 MiB).
      const body = Buffer.from(
        JSON.stringify({ prompt: 'large json body', images: [`data:image/png;base64,${padImage(makePng(1, 1), 30 * MiB).toString('base64')}`] }),
      );
      for (const chunked of [false, true]) {
        const { growth, answers } = await measureLargeJsonBodies(fake.baseUrl, body, chunked);
        lines.push(
          `(e) RSS growth, 32 concurrent ${fmt(body.length / MiB, 0)} MiB JSON bodies ${chunked ? 'chunked' : 'with a Content-Length'}: ${fmt(median(growth), 1)} MB (target <= 256; runs: ${fmtRuns(growth, 1)}; answers over all runs: ${answers})`,
        );
      }
    }
    if (runs('f')) {
      await fake.setBehavior({ imageBytes: 3 * MiB }); // base64 of 3 MiB ≈ 4 MiB per response
      const large = await measureLargeThroughput(fake);
      lines.push(
        `(f) ~4 MB responses, 16 connections: gateway ${fmt(median(large.gatewayRps), 0)} req/s, direct ${fmt(median(large.directRps), 0)} req/s, ratio ${fmt(median(large.ratios))} (target >= 0.6; runs: ${fmtRuns(large.ratios)}; load from ${WRK ? 'wrk' : 'autocannon: install wrk for a true figure'})`,
      );
      lines.push(`(f) CPU per ~4 MB response: gateway ${fmt(median(large.gatewayCpuMs))} ms, the fake itself ${fmt(median(large.fakeCpuMs))} ms (direct runs)`);
    }
    if (runs('g')) {
      const start = await measureEmbeddedStart(gatewayEntry(), RUNS);
      lines.push(
        `(g) \`start\` on an empty data directory: ready in ${fmt(median(start.firstMs) / 1000)} s (target <= 2), idle RSS ${fmt(median(start.firstRssMb), 0)} MB (target <= 200; runs: ${fmtRuns(start.firstRssMb, 0)})`,
      );
      lines.push(
        `(g) \`start\` again on that directory: ready in ${fmt(median(start.restartMs) / 1000)} s, idle RSS ${fmt(median(start.restartRssMb), 0)} MB (target <= 200; runs: ${fmtRuns(start.restartRssMb, 0)})`,
      );
    }
    if (runs('h')) {
      const serve = await measureServeIdle(gatewayEntry(), RUNS);
      lines.push(
        serve
          ? `(h) \`serve\` on Postgres, idle RSS: ${fmt(median(serve), 0)} MB (target <= 100; runs: ${fmtRuns(serve, 0)})`
          : '(h) skipped: no Postgres server binaries (apt-get install postgresql)',
      );
    }
    if (runs('i')) {
      await fake.setBehavior({ imageBytes: 0, delayMs: 20_000 });
      const held = await measureConcurrentGenerations(gatewayEntry(), fake.baseUrl);
      const answers = [...held.statuses].map(([status, n]) => `${n}× ${status}`).join(', ');
      lines.push(
        `(i) ${held.count} concurrent 20 s generations${held.count < 10_000 ? ' (as many as the open-file limit allows)' : ''}: ${answers}; RSS growth ${fmt(held.plateauGrowthMb, 0)} MB while all were held = ${fmt(held.perRequestKb, 1)} KB per request (target <= 16; peak while answering ${fmt(held.peakGrowthMb, 0)} MB)`,
      );
    }
    if (runs('j')) {
      await fake.setBehavior({ imageBytes: 0 });
      lines.push(...(await reportRedisMode(fake.baseUrl)));
    }
    if (runs('k')) {
      await fake.setBehavior({ imageBytes: 0 });
      lines.push(...(await reportUsageRollups(fake.baseUrl)));
    }
    if (runs('l')) lines.push(...(await reportFloors(fake, (base) => startGateway(base))));
    for (const line of lines) console.log(line);
  } finally {
    fake.stop();
    await bundle.remove();
  }
}

await main();
