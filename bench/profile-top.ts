/**
 * Where a gateway's CPU went: reads a `.cpuprofile` (from `BENCH_CPU_PROF=<dir> npm run bench`) and
 * prints the functions with the most self time, and the same summed per source file, as shares of
 * the busy time (idle and GC are shown apart), and the gateway's own functions (src/, or the
 * bench's compiled bundle of it, where line numbers are the bundle's) by total time, their callees
 * included. Only samples from the last `--last-s` seconds are
 * counted (default: all), so the start (the embedded database's initdb, migrations) can be left out.
 *   npx tsx bench/profile-top.ts <file.cpuprofile> [--last-s 20] [--top 25]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const option = (name: string): number | null => {
  const at = args.indexOf(name);
  return at === -1 ? null : Number(args[at + 1]);
};
const file = args[0];
if (!file) throw new Error('usage: profile-top.ts <file.cpuprofile> [--last-s N] [--top N]');
const lastS = option('--last-s');
const top = option('--top') ?? 25;

const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map<number, number>();
for (const n of profile.nodes) for (const child of n.children ?? []) parentOf.set(child, n.id);
const times: number[] = [];
let t = 0;
for (const delta of profile.timeDeltas) {
  t += delta;
  times.push(t);
}
const from = lastS === null ? -Infinity : t - lastS * 1e6;

/** The gateway's own code: its sources (under tsx) or the bench's compiled bundle of them. */
const isGatewayCode = (url: string): boolean => url.includes('/src/') || url.includes('/test-output/cli-');

/** Shortens a source URL to the part that says whose code it is. */
const shortUrl = (url: string): string => {
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) return url.slice(nm + 'node_modules/'.length);
  const src = url.indexOf('/src/');
  if (src !== -1) return url.slice(src + 1);
  if (isGatewayCode(url)) return `gateway bundle ${url.slice(url.lastIndexOf('/') + 1)}`;
  return url.replace(/^file:\/\//, '') || '(native)';
};

/** A function's name and where it is (line numbers of tsx-compiled code are not the source's). */
const nameOf = (frame: ProfileNode['callFrame']): string => `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
const selfUs = new Map<string, number>();
const totalUs = new Map<string, number>();
const fileUs = new Map<string, number>();
const special = { idle: 0, gc: 0, program: 0 };
let busyUs = 0;
profile.samples.forEach((id, i) => {
  if (times[i]! < from) return;
  const delta = profile.timeDeltas[i + 1] ?? 0;
  const frame = byId.get(id)!.callFrame;
  if (frame.functionName === '(idle)') special.idle += delta;
  else if (frame.functionName === '(garbage collector)') special.gc += delta;
  else if (frame.functionName === '(program)') special.program += delta;
  if (frame.functionName === '(idle)') return;
  busyUs += delta;
  const where = shortUrl(frame.url);
  const name = nameOf(frame);
  selfUs.set(name, (selfUs.get(name) ?? 0) + delta);
  fileUs.set(where, (fileUs.get(where) ?? 0) + delta);
  const onStack = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
    const f = byId.get(at)!.callFrame;
    if (isGatewayCode(f.url)) onStack.add(nameOf(f));
  }
  for (const n of onStack) totalUs.set(n, (totalUs.get(n) ?? 0) + delta);
});

const pct = (us: number) => `${((100 * us) / busyUs).toFixed(1).padStart(5)}%`;
const ms = (us: number) => `${(us / 1000).toFixed(0)} ms`;
console.log(`busy ${ms(busyUs)} (idle ${ms(special.idle)}); GC ${pct(special.gc)}, (program) ${pct(special.program)} of busy`);
console.log(`\ntop ${top} functions by self time:`);
for (const [name, us] of [...selfUs].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${name}`);
console.log(`\ntop ${top} files by self time:`);
for (const [name, us] of [...fileUs].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${name}`);
console.log(`\ntop ${top} gateway functions by total time (callees included):`);
for (const [name, us] of [...totalUs].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${name}`);
