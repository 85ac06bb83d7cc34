import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * Finds a system tool a deployment test needs (caddy, shellcheck, systemd-analyze). Returns its path,
 * or null locally with a loud message saying what to install; under CI a missing tool is an error
 * (.ci/run installs them).
 */
export function findSystemTool(name: string, installHint: string, candidates: readonly string[] = []): string | null {
  const found = [...candidates].find((path) => existsSync(path)) ?? lookUpOnPath(name);
  if (found) return found;
  const message = `${name} not found: ${installHint}`;
  if (process.env.CI) throw new Error(`${message} (CI must install it in .ci/run)`);
  console.warn(`\n!!! SKIPPING: ${message} !!!\n`);
  return null;
}

function lookUpOnPath(name: string): string | null {
  const res = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = res.stdout.trim();
  return res.status === 0 && path !== '' ? path : null;
}
