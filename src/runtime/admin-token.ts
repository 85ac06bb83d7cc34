import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ADMIN_TOKEN_FILE } from '../control/instance-file.js';

/**
 * The admin token: ADMIN_TOKEN when set; else `<data-dir>/admin-token`, created (mode 0600) with 32
 * random bytes on first start. `file` says where it is so the operator can be told (never the value).
 */
export async function resolveAdminToken(envToken: string | null, dataDir: string): Promise<{ token: string; file: string | null; created: boolean }> {
  if (envToken && envToken.trim() !== '') return { token: envToken.trim(), file: null, created: false };
  const file = join(dataDir, ADMIN_TOKEN_FILE);
  try {
    const token = (await readFile(file, 'utf8')).trim();
    if (token !== '') return { token, file, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const token = `cig_admin_${randomBytes(32).toString('base64url')}`;
  await writeFile(file, `${token}\n`, { mode: 0o600, flag: 'w' });
  return { token, file, created: true };
}
