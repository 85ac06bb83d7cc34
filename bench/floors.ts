/**
 * (l) Floors: the loads of (a), (f) and (i) through the least a process in the gateway's place can
 * do (bench/floor-proxy.mjs: a bare HTTP proxy on Node's own stack, and a TCP relay that does no
 * HTTP at all), side by side with the gateway in the same runs. The targets of issue #10 are
 * ratios to the fake and absolute figures; these say how much of each is the platform's (Node's
 * sockets and HTTP, the kernel's loopback, two cores shared by load, proxy and fake) rather than
 * the gateway's, on the day and machine of the run.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { heldRequestCount, measureHeldRequests } from './footprint.js';
import {
  type FakeProcess,
  type LoadTarget,
  MiB,
  compareToDirect,
  directTarget,
  firstJsonLine,
  fmt,
  fmtRuns,
  measureLargeSideBySide,
  measureSmallSideBySide,
  median,
} from './load.js';

type FloorKind = 'http' | 'relay';

interface Stoppable extends LoadTarget {
  stop(): Promise<void>;
}

const FLOOR_PROXY = fileURLToPath(new URL('./floor-proxy.mjs', import.meta.url));
const FLOOR_NAMES: Record<FloorKind, string> = { http: 'bare node:http proxy', relay: 'TCP relay' };

/** A floor proxy in its own process, in front of the fake; its generations target is the fake's own path on the proxy's port. */
async function startFloor(kind: FloorKind, fakeBaseUrl: string): Promise<Stoppable> {
  const child = spawn(process.execPath, [FLOOR_PROXY, kind, fakeBaseUrl], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await firstJsonLine(child, (v) => (typeof v.port === 'number' ? v.port : undefined));
  const direct = directTarget(fakeBaseUrl);
  const url = new URL(direct.url);
  url.host = `127.0.0.1:${port}`;
  return {
    pid: child.pid!,
    generations: { url: url.toString(), headers: direct.headers },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('close', r));
    },
  };
}

/** Figures of the runs as `gateway / http / relay`, each the median over the runs. */
const row = (figures: number[][], digits: number) => figures.map((runs) => fmt(median(runs), digits)).join(' / ');
const runsOf = (figures: number[][], digits: number) => figures.map((runs) => fmtRuns(runs, digits)).join(' / ');

/** (l): the lines of the section. `startGateway` starts the same gateway as (a) and (f). */
export async function reportFloors(fake: FakeProcess, startGateway: (upstreamBaseUrl: string) => Promise<Stoppable>): Promise<string[]> {
  const lines = ['(l) floors, side by side in each run as gateway / bare node:http proxy / TCP relay:'];
  const targets: Stoppable[] = [];
  try {
    targets.push(await startGateway(fake.baseUrl), await startFloor('http', fake.baseUrl), await startFloor('relay', fake.baseUrl));
    await fake.setBehavior({ imageBytes: 0 });
    const small = await measureSmallSideBySide(fake.baseUrl, targets);
    const compared = small.gatewayRuns.map((runs) => compareToDirect(small.directRuns, runs));
    lines.push(
      `(l) small responses at 50 connections ÷ direct: ${row(
        compared.map((c) => c.ratios),
        2,
      )} (runs: ${runsOf(
        compared.map((c) => c.ratios),
        2,
      )})`,
      `(l) added p50 at 1 connection: ${row(
        compared.map((c) => c.addedP50),
        2,
      )} ms (runs: ${runsOf(
        compared.map((c) => c.addedP50),
        2,
      )})`,
      `(l) CPU per small request at 50 connections: ${row(
        compared.map((c) => c.cpuMs),
        3,
      )} ms`,
    );
    await fake.setBehavior({ imageBytes: 3 * MiB });
    const large = await measureLargeSideBySide(fake, targets);
    const largeRatios = large.targetRuns.map((runs) => runs.map((r, i) => r.rps / large.directRuns[i]!.rps));
    lines.push(
      `(l) ~4 MB responses at 16 connections ÷ direct: ${row(largeRatios, 2)} (runs: ${runsOf(largeRatios, 2)}); CPU per response ${row(
        large.targetRuns.map((runs) => runs.map((r) => r.cpuMs)),
        1,
      )} ms`,
    );
  } finally {
    for (const t of targets.splice(0)) await t.stop();
  }
  // Memory per held request needs fresh processes: what an earlier load left committed would hide growth.
  await fake.setBehavior({ imageBytes: 0, delayMs: 20_000 });
  const count = await heldRequestCount();
  const held: string[] = [];
  for (const kind of ['http', 'relay'] as const) {
    const floor = await startFloor(kind, fake.baseUrl);
    try {
      const r = await measureHeldRequests(floor.pid, floor.generations, count);
      held.push(`${FLOOR_NAMES[kind]} ${fmt(r.perRequestKb, 1)} KB (${r.ok} of ${count} answered 200)`);
    } finally {
      await floor.stop();
    }
  }
  lines.push(`(l) RSS growth per request held open, ${count} at once: ${held.join(', ')}; the gateway's is (i)`);
  return lines;
}
