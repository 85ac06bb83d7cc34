import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/cli-process.js';
import { findFreePort } from '../support/free-port.js';
import { SHIPPED_CADDYFILE, SHIPPED_UPSTREAM, startCaddy, type RunningCaddy } from '../support/caddy.js';
import { findSystemTool } from '../support/system-tool.js';
import { waitFor } from '../support/wait-for.js';

const PATH = join(REPO_ROOT, 'deploy', 'Caddyfile.scale-out');
const SCALE_OUT = readFileSync(PATH, 'utf8');
/** The data-plane instances the file lists: the template unit's example ports. */
const UPSTREAMS = ['127.0.0.1:19091', '127.0.0.1:19092', '127.0.0.1:19093'];
/** The lines only the scale-out file has: its load balancing and health checks. */
const LB_LINE = /^\s*(lb_policy|lb_try_duration|lb_try_interval|health_uri|health_interval|health_timeout|health_status|fail_duration|max_fails)\s/;

/** A Caddyfile's active lines (no comments, no blank lines), for comparing two files' meaning. */
const activeLines = (text: string): string[] => text.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));

describe('deploy/Caddyfile.scale-out, as written', () => {
  it('is deploy/Caddyfile but for its upstreams and its load-balancing lines (routes, timeouts and headers live in one file)', () => {
    const reduced = activeLines(SCALE_OUT)
      .filter((l) => !LB_LINE.test(l))
      .map((l) => l.replace(UPSTREAMS.join(' '), SHIPPED_UPSTREAM));
    expect(reduced).toEqual(activeLines(SHIPPED_CADDYFILE));
  });

  it('spreads over several instances by open requests, checks /readyz actively and ejects an instance it cannot reach', () => {
    const line = (name: string) =>
      activeLines(SCALE_OUT)
        .find((l) => l.trim().startsWith(`${name} `))
        ?.trim();
    expect(line('reverse_proxy')).toBe(`reverse_proxy ${UPSTREAMS.join(' ')} {`);
    expect(line('lb_policy')).toBe('lb_policy least_conn');
    expect(line('health_uri')).toBe('health_uri /readyz');
    expect(line('health_status')).toBe('health_status 200');
    expect(line('max_fails')).toBe('max_fails 3');
    expect(line('fail_duration')).toBe('fail_duration 30s');
    // A gateway 502/503 is about the accounts (shared by every instance): it must never eject one.
    expect(SCALE_OUT).not.toMatch(/^\s*unhealthy_status/m);
  });
});

const caddy = findSystemTool('caddy', 'apt-get install caddy');

describe.skipIf(!caddy)('caddy validate', () => {
  it('accepts the scale-out Caddyfile', () => {
    const scratch = mkdtempSync(join(tmpdir(), 'cig-caddy-'));
    try {
      const env = { ...process.env, HOME: scratch, XDG_DATA_HOME: join(scratch, 'data'), XDG_CONFIG_HOME: join(scratch, 'config') };
      const res = spawnSync(caddy!, ['validate', '--config', PATH, '--adapter', 'caddyfile'], { env, encoding: 'utf8' });
      expect(res.status, res.stderr).toBe(0);
      expect(res.stdout + res.stderr).toContain('Valid configuration');
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});

/** A stand-in data plane: answers image requests naming itself, and /readyz as told. */
interface StandIn {
  name: string;
  address: string;
  ready: boolean;
  readyzCalls: number;
  server: Server;
}

async function startStandIn(name: string): Promise<StandIn> {
  const standIn = { name, address: '', ready: true, readyzCalls: 0 } as StandIn;
  standIn.server = createServer((req, res) => {
    if (req.url === '/readyz') {
      standIn.readyzCalls += 1;
      res.writeHead(standIn.ready ? 200 : 503).end();
      return;
    }
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'x-served-by': name }).end('{"data":[]}'));
  });
  await new Promise<void>((resolve) => standIn.server.listen(0, '127.0.0.1', resolve));
  const bound = standIn.server.address();
  standIn.address = `127.0.0.1:${typeof bound === 'object' && bound ? bound.port : 0}`;
  return standIn;
}

describe.skipIf(!caddy)('through a real Caddy with the scale-out Caddyfile', () => {
  let a: StandIn;
  let b: StandIn;
  let proxy: RunningCaddy;

  beforeAll(async () => {
    [a, b] = await Promise.all([startStandIn('a'), startStandIn('b')]);
    // The third instance is down: nothing listens on its port.
    const down = `127.0.0.1:${await findFreePort()}`;
    const rendered = SCALE_OUT.replace(UPSTREAMS.join(' '), [a.address, b.address, down].join(' ')).replace('health_interval 5s', 'health_interval 100ms');
    proxy = await startCaddy(caddy!, SHIPPED_UPSTREAM, () => rendered);
  });

  afterAll(async () => {
    await proxy?.stop();
    for (const s of [a, b]) s?.server.close();
  });

  const servedBy = async (): Promise<string> => {
    const res = await fetch(`${proxy.url}/v1/images/generations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status, proxy.output()).toBe(200);
    return res.headers.get('x-served-by')!;
  };
  const servedByMany = async (n: number) => Promise.all(Array.from({ length: n }, servedBy));

  it('spreads requests over the live instances; none fails for the one that is down', async () => {
    expect(new Set(await servedByMany(20))).toEqual(new Set(['a', 'b']));
  });

  it('an instance whose /readyz turns 503 gets no new request until it answers 200 again', async () => {
    a.ready = false;
    const seen = a.readyzCalls;
    // Two checks after the switch: the first one's verdict is recorded before the second is made.
    await waitFor('two health checks of a', async () => (a.readyzCalls >= seen + 2 ? true : null), 5_000, 20);
    expect(new Set(await servedByMany(10))).toEqual(new Set(['b']));
    a.ready = true;
    const back = a.readyzCalls;
    await waitFor('a to pass a health check', async () => (a.readyzCalls >= back + 2 ? true : null), 5_000, 20);
    await waitFor('a to serve again', async () => ((await servedByMany(10)).includes('a') ? true : null), 5_000, 20);
  });
});
