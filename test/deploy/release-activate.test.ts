import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REQUIRED_SCHEMA_VERSION } from '../../src/store/migrator.js';
import pgModule from 'pg';
import { REPO_ROOT } from '../support/cli-process.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { findFreePort } from '../support/free-port.js';

/**
 * deploy/release.sh builds one real bundle (beforeAll); variants (broken, corrupted, needing a newer
 * schema, a second good one) are derived from it by editing a copy. deploy/activate.sh then installs
 * them into a scratch prefix, with test/support/fake-systemctl.sh as the supervisor: it really runs
 * `<prefix>/current/bin/codex-image-gateway.js serve` on a real Postgres, so readiness is real.
 */
const run = promisify(execFile);
const pg: PostgresServer | null = await startPostgres();
if (!pg) console.warn('\n!!! SKIPPING release/activate tests: apt-get install postgresql !!!\n');

const scratch = mkdtempSync(join(tmpdir(), 'cig-release-'));
const prefix = join(scratch, 'opt');
const supervisorDir = join(scratch, 'supervisor');
const envFile = join(scratch, 'gateway.env');
const IMAGE_UNIT = 'codex-image-gateway.service';
const CONTROL_UNIT = 'codex-image-gateway-control.service';

interface Manifest {
  name: string;
  version: string;
  release_id: string;
  git_revision: string;
  git_dirty: boolean;
  required_schema_version: number;
  built_at: string;
  node_version: string;
}

/** Extra scratch hosts a test set up (their supervisors are stopped in afterAll). */
const hosts: Array<{ PREFIX: string; ENV_FILE: string; FAKE_SYSTEMCTL_DIR: string }> = [];
let bundle: string;
let tree: string;
let manifest: Manifest;
let port: number;
const variants: Record<'broken' | 'corrupt' | 'newerSchema' | 'second', string> = { broken: '', corrupt: '', newerSchema: '', second: '' };

/**
 * Replaces a file of a derived tree with new content. The tree is a hard-linked copy of the good one
 * (`cp -al`: links instead of copying its ~4,000 files), so a file is unlinked before it is written,
 * never written in place, which would change the good tree too.
 */
function rewrite(file: string, content: string | Buffer): void {
  rmSync(file);
  writeFileSync(file, content);
}

/**
 * Derives a tree from the unpacked good one and lets `edit` change it (through `rewrite`). A
 * well-formed variant (`resum`) gets its own release id and a fresh SHA256SUMS; a tampered one
 * (`resum: false`) keeps both, so the edit is its only defect.
 */
async function deriveTree(name: string, edit: (dir: string, m: Manifest) => void, resum = true): Promise<string> {
  const dir = join(scratch, 'variants', name, `codex-image-gateway-${name}`);
  mkdirSync(join(dir, '..'), { recursive: true });
  await run('cp', ['-al', tree, dir]);
  const m = resum ? { ...manifest, release_id: `${manifest.release_id}-${name}` } : manifest;
  rewrite(join(dir, 'manifest.json'), `${JSON.stringify(m, null, 2)}\n`);
  edit(dir, m);
  if (resum) {
    await run(
      'bash',
      ['-c', 'rm SHA256SUMS && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum > ../SHA256SUMS.tmp && mv ../SHA256SUMS.tmp SHA256SUMS'],
      {
        cwd: dir,
      },
    );
  }
  return dir;
}

/**
 * Packs a derived tree as `<name>.tar.gz`. Only once no other tree is being derived: linking or
 * unlinking a shared file changes its status time, which tar reports as "file changed as we read it".
 */
async function packTree(name: string, dir: string): Promise<string> {
  const out = join(scratch, `${name}.tar.gz`);
  await run('tar', ['-C', join(dir, '..'), '-I', 'gzip -1', '-cf', out, `codex-image-gateway-${name}`]);
  return out;
}

/** A derived bundle (deriveTree, then packTree), made while nothing else derives or packs. */
async function deriveBundle(name: string, edit: (dir: string, m: Manifest) => void, resum = true): Promise<string> {
  return packTree(name, await deriveTree(name, edit, resum));
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs deploy/activate.sh with every system command pointed at the scratch host. */
function activate(bundlePath: string, target = 'image', extraEnv: Record<string, string> = {}): Promise<RunResult> {
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: scratch,
    PREFIX: prefix,
    NODE: process.execPath,
    SYSTEMCTL: join(REPO_ROOT, 'test', 'support', 'fake-systemctl.sh'),
    FAKE_SYSTEMCTL_DIR: supervisorDir,
    ENV_FILE: envFile,
    CONTROL_ENV_FILE: join(scratch, 'no-control.env'),
    UNIT_DIR: join(scratch, 'units'),
    READY_URL: `http://127.0.0.1:${port}/readyz`,
    READY_TIMEOUT_S: '15',
    READY_INTERVAL_S: '0.2',
    ...extraEnv,
  };
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(REPO_ROOT, 'deploy', 'activate.sh'), bundlePath, target], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const current = () => (existsSync(join(prefix, 'current')) ? readlinkSync(join(prefix, 'current')) : null);
const releases = () => readdirSync(join(prefix, 'releases')).sort();
const runningRelease = () => readFileSync(join(supervisorDir, `${IMAGE_UNIT}.release`), 'utf8').trim();
const readyz = () =>
  fetch(`http://127.0.0.1:${port}/readyz`).then(
    (r) => r.status,
    () => 0,
  );
const releaseOf = (m: Manifest, variant?: string) => (variant ? `${m.release_id}-${variant}` : m.release_id);

beforeAll(async () => {
  if (!pg) return;
  port = await findFreePort();
  const built = await run('bash', [join(REPO_ROOT, 'deploy', 'release.sh')], { env: { ...process.env, OUT_DIR: join(scratch, 'out') }, maxBuffer: 16 << 20 });
  bundle = built.stdout.trim().split('\n').at(-1)!;
  tree = join(scratch, 'unpacked');
  mkdirSync(tree);
  await run('tar', ['-xzf', bundle, '-C', tree, '--strip-components=1']);
  manifest = JSON.parse(readFileSync(join(tree, 'manifest.json'), 'utf8')) as Manifest;
  const db = { DATABASE_URL: pg.url };
  // The bundle's own compiled CLI migrates the database (the control plane's job on a real host).
  await run(process.execPath, [join(tree, 'bin', 'codex-image-gateway.js'), 'migrate'], { cwd: tree, env: { PATH: process.env.PATH, ...db } });
  writeFileSync(
    envFile,
    [
      `DATABASE_URL="${pg.url}"`,
      `CODEX_IMAGE_GATEWAY_MASTER_KEY=${randomBytes(32).toString('hex')}`,
      `CODEX_IMAGE_GATEWAY_DATA_DIR=${join(scratch, 'state')}`,
      `CODEX_IMAGE_LOG_DIR=${join(scratch, 'logs')}`,
      `GATEWAY_LISTEN=127.0.0.1:${port}`,
      'CODEX_UPSTREAM_BASE_URL=http://127.0.0.1:9/backend-api/codex',
      'SHUTDOWN_GRACE_MS=2000',
      'LOG_LEVEL=warn',
      '',
    ].join('\n'),
  );
  // Each variant's checksums and tarball are made by child processes, so the four run side by side:
  // first every tree is derived, then every tree is packed (packTree says why not both at once).
  const trees = await Promise.all([
    deriveTree('second', () => undefined),
    deriveTree('broken', (dir) => {
      // The CLI still works (so the schema check passes); only `serve` dies at start.
      const file = join(dir, 'dist', 'runtime', 'processes.js');
      const source = readFileSync(file, 'utf8');
      const at = source.indexOf('export async function runServe(');
      const body = source.indexOf(') {', at) + 3;
      expect(at).toBeGreaterThan(-1);
      rewrite(file, `${source.slice(0, body)}\n    throw new Error('deliberately broken release');${source.slice(body)}`);
    }),
    deriveTree(
      'corrupt',
      (dir) => rewrite(join(dir, 'dist', 'main.js'), `${readFileSync(join(dir, 'dist', 'main.js'), 'utf8')}\n// changed after SHA256SUMS\n`),
      false,
    ),
    deriveTree('newer', (dir, m) => {
      rewrite(join(dir, 'manifest.json'), `${JSON.stringify({ ...m, required_schema_version: REQUIRED_SCHEMA_VERSION + 1 }, null, 2)}\n`);
    }),
  ]);
  const [second, broken, corrupt, newer] = trees;
  [variants.second, variants.broken, variants.corrupt, variants.newerSchema] = await Promise.all([
    packTree('second', second),
    packTree('broken', broken),
    packTree('corrupt', corrupt),
    packTree('newer', newer),
  ]);
}, 180_000);

afterAll(async () => {
  for (const host of [{ PREFIX: prefix, ENV_FILE: envFile, FAKE_SYSTEMCTL_DIR: supervisorDir }, ...hosts]) {
    if (!existsSync(host.FAKE_SYSTEMCTL_DIR)) continue;
    await run(join(REPO_ROOT, 'test', 'support', 'fake-systemctl.sh'), ['stop', IMAGE_UNIT, CONTROL_UNIT], {
      env: { ...process.env, NODE: process.execPath, ...host },
    }).catch(() => undefined);
  }
  await pg?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe.skipIf(!pg)('deploy/release.sh', () => {
  it('writes a manifest with version, git revision, required schema version and build time', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(manifest).toMatchObject({ name: 'codex-image-gateway', version: pkg.version, required_schema_version: REQUIRED_SCHEMA_VERSION });
    expect(manifest.git_revision).toMatch(/^[0-9a-f]{40}$/);
    expect(manifest.release_id.startsWith(`${pkg.version}-${manifest.git_revision.slice(0, 12)}`)).toBe(true);
    expect(Math.abs(Date.parse(manifest.built_at) - Date.now())).toBeLessThan(10 * 60_000);
    expect(bundle.endsWith(`codex-image-gateway-${manifest.release_id}.tar.gz`)).toBe(true);
  });

  it('ships the compiled app with its migrations, production dependencies only, the units and the scripts', () => {
    for (const path of [
      'bin/codex-image-gateway.js',
      'dist/main.js',
      'dist/store/migrations/0001_init.sql',
      'package.json',
      'package-lock.json',
      'node_modules/fastify/package.json',
      'deploy/codex-image-gateway.service',
      'deploy/codex-image-gateway@.service',
      'deploy/codex-image-gateway-control.service',
      'deploy/Caddyfile',
      'deploy/Caddyfile.scale-out',
      'deploy/gateway.env.example',
      'deploy/activate.sh',
    ]) {
      expect(existsSync(join(tree, path)), path).toBe(true);
    }
    expect(readdirSync(join(tree, 'dist', 'store', 'migrations')).filter((f) => f.endsWith('.sql'))).toHaveLength(REQUIRED_SCHEMA_VERSION);
    for (const devOnly of ['vitest', 'typescript', 'tsx', 'src']) expect(existsSync(join(tree, 'node_modules', devOnly)), devOnly).toBe(false);
    expect(existsSync(join(tree, 'src'))).toBe(false);
  });

  it('lists every file in SHA256SUMS, and the sums hold', async () => {
    const listed = readFileSync(join(tree, 'SHA256SUMS'), 'utf8').trim().split('\n');
    expect(listed.length).toBeGreaterThan(100);
    expect(listed.some((l) => l.endsWith('  ./manifest.json'))).toBe(true);
    await expect(run('sha256sum', ['--check', '--quiet', '--strict', 'SHA256SUMS'], { cwd: tree })).resolves.toBeDefined();
  });
});

describe.skipIf(!pg)('deploy/activate.sh', () => {
  it('a good bundle activates: installed, current switched, only the data plane started, and it serves /readyz', async () => {
    const res = await activate(bundle, 'image');
    expect(res.code, res.stderr).toBe(0);
    expect(current()).toBe(`releases/${manifest.release_id}`);
    expect(runningRelease()).toBe(join(prefix, 'releases', manifest.release_id));
    expect(await readyz()).toBe(200);
    expect(existsSync(join(supervisorDir, `${CONTROL_UNIT}.pid`))).toBe(false);
    expect(res.stdout).toContain(`activated ${manifest.release_id} for ${IMAGE_UNIT}`);
    expect(releases()).toEqual([manifest.release_id]);
  });

  it('a bundle whose app dies at start is rolled back as soon as it exits (not after READY_TIMEOUT_S); the previous release keeps serving', async () => {
    // 60 s is twice this test's timeout: only noticing the exit lets it finish.
    const res = await activate(variants.broken, 'image', { READY_TIMEOUT_S: '60' });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`${IMAGE_UNIT} exited before it was ready`);
    expect(res.stderr).toContain(
      `activation of ${releaseOf(manifest, 'broken')} failed readiness and was rolled back; ${manifest.release_id} is current and ready`,
    );
    expect(res.stderr).toContain('deliberately broken release'); // the supervisor's status output of the failed start
    expect(current()).toBe(`releases/${manifest.release_id}`);
    expect(runningRelease()).toBe(join(prefix, 'releases', manifest.release_id));
    expect(await readyz()).toBe(200);
  });

  it('a corrupted bundle is refused before anything changes', async () => {
    const before = { current: current(), releases: releases(), pid: readFileSync(join(supervisorDir, `${IMAGE_UNIT}.pid`), 'utf8') };
    const res = await activate(variants.corrupt);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('failed verification; nothing was changed');
    expect(res.stderr).toMatch(/dist\/main\.js: FAILED/);
    expect(res.stderr).not.toMatch(/manifest\.json: FAILED/);
    expect({ current: current(), releases: releases(), pid: readFileSync(join(supervisorDir, `${IMAGE_UNIT}.pid`), 'utf8') }).toEqual(before);
    expect(await readyz()).toBe(200);
  });

  it('a file added to a bundle after SHA256SUMS is refused too', async () => {
    const extra = await deriveBundle('extra', (dir) => writeFileSync(join(dir, 'dist', 'extra.js'), 'export {};\n'), false);
    const before = releases();
    const res = await activate(extra);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('files present that SHA256SUMS does not list');
    expect(releases()).toEqual(before);
  });

  it('a bundle needing a newer schema than the database has is refused, saying to migrate with the control plane first', async () => {
    const before = { current: current(), releases: releases() };
    const res = await activate(variants.newerSchema);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`needs database schema version ${REQUIRED_SCHEMA_VERSION + 1} but the database is at ${REQUIRED_SCHEMA_VERSION}`);
    expect(res.stderr).toMatch(/MIGRATE=1 .* control/);
    expect({ current: current(), releases: releases() }).toEqual(before);
  });

  it('MIGRATE=1 is refused for the data plane alone (it never migrates)', async () => {
    const res = await activate(variants.second, 'image', { MIGRATE: '1' });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('MIGRATE=1 needs target control or all');
  });

  it('a second good bundle activates, keeps the last KEEP_RELEASES and never the previous one', async () => {
    const res = await activate(variants.second, 'image', { KEEP_RELEASES: '1' });
    expect(res.code, res.stderr).toBe(0);
    expect(current()).toBe(`releases/${releaseOf(manifest, 'second')}`);
    expect(readlinkSync(join(prefix, 'previous'))).toBe(`releases/${manifest.release_id}`);
    expect(releases()).toEqual([manifest.release_id, releaseOf(manifest, 'second')].sort());
    expect(res.stdout).toContain(`removing old release ${releaseOf(manifest, 'broken')}`);
    expect(runningRelease()).toBe(join(prefix, 'releases', releaseOf(manifest, 'second')));
    expect(await readyz()).toBe(200);
  });

  it('re-activating the current release changes nothing', async () => {
    const res = await activate(variants.second);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('is already current; nothing to do');
  });

  it('target control: refused on an unmigrated database; with MIGRATE=1 it migrates, then starts only the control plane', async () => {
    const host = join(scratch, 'host2');
    const adminPort = await findFreePort();
    const client = new pgModule.Client({ connectionString: pg!.url });
    await client.connect();
    await client.query('CREATE DATABASE fresh');
    await client.end();
    const hostEnv = join(host, 'gateway.env');
    mkdirSync(host, { recursive: true });
    writeFileSync(
      hostEnv,
      [
        `DATABASE_URL=${pg!.urlFor('fresh')}`,
        `CODEX_IMAGE_GATEWAY_MASTER_KEY=${randomBytes(32).toString('hex')}`,
        `CODEX_IMAGE_GATEWAY_DATA_DIR=${join(host, 'state')}`,
        `ADMIN_LISTEN=127.0.0.1:${adminPort}`,
        'LOG_LEVEL=warn',
        '',
      ].join('\n'),
    );
    const hostSettings = {
      PREFIX: join(host, 'opt'),
      ENV_FILE: hostEnv,
      FAKE_SYSTEMCTL_DIR: join(host, 'supervisor'),
      CONTROL_READY_URL: `http://127.0.0.1:${adminPort}/admin/api/health`,
    };
    hosts.push(hostSettings);

    const refused = await activate(bundle, 'control', hostSettings);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`needs database schema version ${REQUIRED_SCHEMA_VERSION} but the database is at 0`);
    expect(existsSync(join(host, 'opt', 'current'))).toBe(false);

    const res = await activate(bundle, 'control', { ...hostSettings, MIGRATE: '1' });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain(`applying migrations up to ${REQUIRED_SCHEMA_VERSION} (MIGRATE=1)`);
    expect(res.stdout).toContain(`${CONTROL_UNIT} ready`);
    expect(existsSync(join(host, 'supervisor', `${CONTROL_UNIT}.pid`))).toBe(true);
    expect(existsSync(join(host, 'supervisor', `${IMAGE_UNIT}.pid`))).toBe(false);
    expect((await fetch(`http://127.0.0.1:${adminPort}/admin/api/health`)).status).toBe(401);
  });

  it('a first install that never gets ready (its process alive) times out, leaves no current release and stops the unit', async () => {
    const host = join(scratch, 'host3');
    mkdirSync(host);
    // Its own listen address, so its good release starts and stays up; readiness is asked elsewhere.
    const hostEnv = join(host, 'gateway.env');
    const ownPort = await findFreePort();
    writeFileSync(
      hostEnv,
      readFileSync(envFile, 'utf8')
        .replace(`GATEWAY_LISTEN=127.0.0.1:${port}`, `GATEWAY_LISTEN=127.0.0.1:${ownPort}`)
        .replace(`CODEX_IMAGE_LOG_DIR=${join(scratch, 'logs')}`, `CODEX_IMAGE_LOG_DIR=${join(host, 'logs')}`),
    );
    const hostSettings = { PREFIX: join(host, 'opt'), ENV_FILE: hostEnv, FAKE_SYSTEMCTL_DIR: join(host, 'supervisor') };
    hosts.push(hostSettings);
    const res = await activate(variants.second, 'image', {
      ...hostSettings,
      READY_URL: `http://127.0.0.1:${await findFreePort()}/readyz`,
      READY_TIMEOUT_S: '1',
    });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`${IMAGE_UNIT} not ready after 1s`);
    expect(res.stderr).toContain('no previous release to roll back to');
    expect(res.stderr).toContain(`activation of ${releaseOf(manifest, 'second')} failed (first install); nothing is running`);
    expect(existsSync(join(host, 'opt', 'current'))).toBe(false);
    expect(existsSync(join(host, 'supervisor', `${IMAGE_UNIT}.pid`))).toBe(false);
  });

  it('leaves no temporary folder or link behind', () => {
    expect(readdirSync(join(prefix, 'releases')).filter((f) => f.startsWith('.'))).toEqual([]);
    expect(readdirSync(prefix).filter((f) => f.includes('.tmp.'))).toEqual([]);
  });
});
