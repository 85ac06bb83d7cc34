import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './cli-process.js';
import { findFreePort } from './free-port.js';
import { waitFor } from './wait-for.js';

/** The shipped deploy/Caddyfile, as text. */
export const SHIPPED_CADDYFILE = readFileSync(join(REPO_ROOT, 'deploy', 'Caddyfile'), 'utf8');
/** The data-plane address the shipped Caddyfile proxies to. */
export const SHIPPED_UPSTREAM = '127.0.0.1:19082';

/** The shipped Caddyfile with a test's addresses: a plain-HTTP site on `port`, `upstream` as the data plane, no admin endpoint. */
export function renderCaddyfile(port: number, upstream: string, caddyfile = SHIPPED_CADDYFILE): string {
  const site = /^images\.example\.com \{$/m;
  if (!site.test(caddyfile)) throw new Error('the Caddyfile has no images.example.com site');
  return caddyfile.replace(/^\{$/m, '{\n\tadmin off').replace(site, `http://127.0.0.1:${port} {`).replaceAll(SHIPPED_UPSTREAM, upstream);
}

/** A running `caddy run` on loopback, in a scratch HOME. */
export interface RunningCaddy {
  url: string;
  /** Everything caddy printed (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

/** Starts `caddy` with the shipped Caddyfile (optionally edited by `edit`) in front of `upstream`, and waits until it answers. */
export async function startCaddy(caddy: string, upstream: string, edit: (caddyfile: string) => string = (c) => c): Promise<RunningCaddy> {
  const scratch = mkdtempSync(join(tmpdir(), 'cig-caddy-'));
  const env = { ...process.env, HOME: scratch, XDG_DATA_HOME: join(scratch, 'data'), XDG_CONFIG_HOME: join(scratch, 'config') };
  const port = await findFreePort();
  const url = `http://127.0.0.1:${port}`;
  const config = join(scratch, 'Caddyfile');
  writeFileSync(config, renderCaddyfile(port, upstream, edit(SHIPPED_CADDYFILE)));
  let output = '';
  const proxy: ChildProcess = spawn(caddy, ['run', '--config', config, '--adapter', 'caddyfile'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  proxy.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  proxy.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const stop = async () => {
    if (proxy.exitCode === null) {
      const exited = new Promise((resolve) => proxy.once('exit', resolve));
      proxy.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (proxy.exitCode === null) proxy.kill('SIGKILL');
    }
    rmSync(scratch, { recursive: true, force: true });
  };
  try {
    await waitFor(
      'caddy to answer',
      async () => {
        if (proxy.exitCode !== null) throw new Error(`caddy exited: ${output}`);
        return (
          (await fetch(`${url}/_caddy_health`).then(
            (r) => r.status === 200,
            () => false,
          )) || null
        );
      },
      15_000,
      50,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, output: () => output, stop };
}
