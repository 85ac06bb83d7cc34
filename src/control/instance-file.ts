import { readFile, writeFile, rm, rename } from 'node:fs/promises';
import { join } from 'node:path';

/** What a running `start` instance writes to `<data-dir>/instance.json` so the CLI can find its admin API. */
export interface InstanceInfo {
  pid: number;
  gatewayUrl: string;
  adminUrl: string;
  startedAt: number;
  version: string;
}

export const INSTANCE_FILE = 'instance.json';
export const ADMIN_TOKEN_FILE = 'admin-token';

/** Writes instance.json atomically (temp file + rename). */
export async function writeInstanceFile(dataDir: string, info: InstanceInfo): Promise<void> {
  const path = join(dataDir, INSTANCE_FILE);
  await writeFile(`${path}.tmp`, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}

/** Reads instance.json; null when absent or unreadable. */
export async function readInstanceFile(dataDir: string): Promise<InstanceInfo | null> {
  try {
    const parsed: unknown = JSON.parse(await readFile(join(dataDir, INSTANCE_FILE), 'utf8'));
    if (typeof parsed !== 'object' || parsed === null) return null;
    const p = parsed as Partial<InstanceInfo>;
    if (typeof p.pid !== 'number' || typeof p.adminUrl !== 'string') return null;
    return p as InstanceInfo;
  } catch {
    return null;
  }
}

/** Removes instance.json (on shutdown). */
export async function removeInstanceFile(dataDir: string): Promise<void> {
  await rm(join(dataDir, INSTANCE_FILE), { force: true });
}
