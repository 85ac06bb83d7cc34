import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_FIELDS } from '../../src/config/fields.js';
import { REPO_ROOT } from '../support/cli-process.js';
import { findSystemTool } from '../support/system-tool.js';

/** Per-instance paths of the template: its port names its data and log directories. */
const INSTANCE_ARGS = '--listen 127.0.0.1:%i --data-dir /var/lib/codex-image-gateway/serve-%i --log-dir /var/log/codex-image-gateway/serve-%i';

/** Each unit: its command line, the state/log directories systemd makes, and the file name `systemd-analyze verify` reads it under. */
const UNITS = {
  'codex-image-gateway.service': { command: 'serve', dirs: 'codex-image-gateway', verifyAs: 'codex-image-gateway.service' },
  'codex-image-gateway@.service': {
    command: `serve ${INSTANCE_ARGS}`,
    dirs: 'codex-image-gateway codex-image-gateway/serve-%i',
    // A template is verified as one of its instances, so %i is expanded and the command checked.
    verifyAs: 'codex-image-gateway@19091.service',
  },
  'codex-image-gateway-control.service': { command: 'control', dirs: 'codex-image-gateway', verifyAs: 'codex-image-gateway-control.service' },
} as const;
type UnitName = keyof typeof UNITS;
const DATA_PLANE_UNITS = ['codex-image-gateway.service', 'codex-image-gateway@.service'] as const satisfies readonly UnitName[];

const readUnit = (name: UnitName) => readFileSync(join(REPO_ROOT, 'deploy', name), 'utf8');

/** `[Section]` → key → every value given (later ones win in systemd; lists accumulate). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current = new Map<string, string[]>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const section = /^\[(\w+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
    } else {
      const [key, ...rest] = line.split('=');
      current.set(key!, [...(current.get(key!) ?? []), rest.join('=')]);
    }
  }
  return sections;
}

const service = (name: UnitName) => parseUnit(readUnit(name)).get('Service')!;
const last = (name: UnitName, key: string) => service(name).get(key)?.at(-1);
const bytesOf = (v: string | undefined) => {
  const m = /^(\d+)([KMG])$/.exec(v ?? '');
  return m ? Number(m[1]) * 1024 ** { K: 1, M: 2, G: 3 }[m[2] as 'K' | 'M' | 'G'] : NaN;
};

describe.each(Object.entries(UNITS) as [UnitName, (typeof UNITS)[UnitName]][])('%s', (name, unit) => {
  it('runs the installed release as the dedicated user, restarting always', () => {
    expect(last(name, 'ExecStart')).toBe(`/usr/bin/node /opt/codex-image-gateway/current/bin/codex-image-gateway.js ${unit.command}`);
    expect(last(name, 'User')).toBe('codex-image-gateway');
    expect(last(name, 'Group')).toBe('codex-image-gateway');
    expect(last(name, 'Restart')).toBe('always');
    expect(service(name).get('EnvironmentFile')?.[0]).toBe('/etc/codex-image-gateway/gateway.env');
  });

  it.each([
    ['NoNewPrivileges', 'yes'],
    ['ProtectSystem', 'strict'],
    ['ProtectHome', 'yes'],
    ['PrivateTmp', 'yes'],
    ['PrivateDevices', 'yes'],
    ['CapabilityBoundingSet', ''],
    ['AmbientCapabilities', ''],
    ['RestrictAddressFamilies', 'AF_INET AF_INET6 AF_UNIX'],
    ['RestrictSUIDSGID', 'yes'],
    ['KillSignal', 'SIGTERM'],
  ])('is hardened: %s=%s', (key, value) => {
    expect(last(name, key)).toBe(value);
  });

  it('may write only the state and log directories', () => {
    expect(last(name, 'ReadWritePaths')?.split(' ')).toEqual(['/var/lib/codex-image-gateway', '/var/log/codex-image-gateway']);
    expect(last(name, 'StateDirectory')).toBe(unit.dirs);
    expect(last(name, 'LogsDirectory')).toBe(unit.dirs);
  });

  it('does not forbid writable+executable memory (V8 JIT would crash)', () => {
    expect(service(name).has('MemoryDenyWriteExecute')).toBe(false);
  });

  it('has a memory ceiling above its throttling point', () => {
    expect(bytesOf(last(name, 'MemoryHigh'))).toBeLessThan(bytesOf(last(name, 'MemoryMax')));
  });
});

describe.each(DATA_PLANE_UNITS)('the data plane unit %s', (name) => {
  it('waits longer than SHUTDOWN_GRACE_MS for in-flight generations before SIGKILL', () => {
    const graceS = CONFIG_FIELDS.shutdownGraceMs.default / 1000;
    const stopS = Number(last(name, 'TimeoutStopSec'));
    expect(stopS).toBeGreaterThanOrEqual(graceS + 30);
    expect(readUnit(name)).toContain(`SHUTDOWN_GRACE_MS (default ${CONFIG_FIELDS.shutdownGraceMs.default} ms`);
  });

  it('has memory for the worst case its comment plans for (150 MB + 3 x MAX_BODY_BYTES_IN_FLIGHT)', () => {
    const planned = 150 * 1024 ** 2 + 3 * CONFIG_FIELDS.maxBodyBytesInFlight.default;
    expect(bytesOf(last(name, 'MemoryMax'))).toBeGreaterThanOrEqual(planned);
    expect(readUnit(name)).toContain(`MAX_BODY_BYTES_IN_FLIGHT = ${CONFIG_FIELDS.maxBodyBytesInFlight.default / 1024 ** 2} MiB`);
  });
});

describe('the data plane template, one instance per port', () => {
  const name = 'codex-image-gateway@.service';

  it('gives each instance its own listen port, data directory and log directory as flags (which win over gateway.env)', () => {
    const args = last(name, 'ExecStart')!.split(' ');
    expect(args.filter((a) => a.includes('%i'))).toEqual(['127.0.0.1:%i', '/var/lib/codex-image-gateway/serve-%i', '/var/log/codex-image-gateway/serve-%i']);
    for (const flag of ['--listen', '--data-dir', '--log-dir']) expect(args).toContain(flag);
  });

  it('reads the shared settings, the data-plane ones, then its own instance file (later files win)', () => {
    expect(service(name).get('EnvironmentFile')).toEqual([
      '/etc/codex-image-gateway/gateway.env',
      '-/etc/codex-image-gateway/serve.env',
      '-/etc/codex-image-gateway/serve-%i.env',
    ]);
  });
});

const analyze = findSystemTool('systemd-analyze', 'apt-get install systemd', ['/usr/bin/systemd-analyze']);
const scratch = mkdtempSync(join(tmpdir(), 'cig-units-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let rendered: string[] | null = null;

/** Renders the units (once) with this machine's paths: node, a prefix whose `current` is this checkout, an env dir. */
function renderUnits(): string[] {
  if (rendered) return rendered;
  const prefix = join(scratch, 'opt');
  const etc = join(scratch, 'etc');
  mkdirSync(prefix, { recursive: true });
  mkdirSync(etc, { recursive: true });
  symlinkSync(REPO_ROOT, join(prefix, 'current'));
  copyFileSync(join(REPO_ROOT, 'deploy', 'gateway.env.example'), join(etc, 'gateway.env'));
  rendered = (Object.keys(UNITS) as UnitName[]).map((name) => {
    const text = readUnit(name)
      .replaceAll('/usr/bin/node', process.execPath)
      .replaceAll('/opt/codex-image-gateway', prefix)
      .replaceAll('/etc/codex-image-gateway', etc);
    const path = join(scratch, UNITS[name].verifyAs);
    writeFileSync(path, text);
    return path;
  });
  return rendered;
}

describe.skipIf(!analyze)('systemd-analyze verify', () => {
  it('passes on every rendered unit (the template as an instance), without a single warning about them', () => {
    const paths = renderUnits();
    const res = spawnSync(analyze!, ['verify', ...paths], { cwd: scratch, encoding: 'utf8' });
    const aboutOurs = `${res.stdout}${res.stderr}`.split('\n').filter((l) => Object.values(UNITS).some((u) => l.includes(u.verifyAs)));
    expect(aboutOurs).toEqual([]);
    expect(res.status, res.stderr).toBe(0);
  });

  it.each([
    ['an unknown directive', (u: string) => u.replace('NoNewPrivileges=yes', 'NoNewPrivileges=yes\nProtectEverything=yes')],
    ['a bad value', (u: string) => u.replace('ProtectSystem=strict', 'ProtectSystem=sometimes')],
    ['a missing binary', (u: string) => u.replace(`ExecStart=${process.execPath}`, 'ExecStart=/nonexistent/node')],
  ])('catches %s (the check is not vacuous)', (_what, breakIt) => {
    const [serve] = renderUnits();
    const broken = join(scratch, 'broken', 'codex-image-gateway.service');
    mkdirSync(join(scratch, 'broken'), { recursive: true });
    writeFileSync(broken, breakIt(readFileSync(serve!, 'utf8')));
    const res = spawnSync(analyze!, ['verify', broken], { cwd: scratch, encoding: 'utf8' });
    expect(`${res.stdout}${res.stderr}`).toContain('codex-image-gateway.service');
  });

  it('catches a broken template as its instance, %i expanded (the check is not vacuous)', () => {
    const template = renderUnits()[(Object.keys(UNITS) as UnitName[]).indexOf('codex-image-gateway@.service')]!;
    const broken = join(scratch, 'broken', UNITS['codex-image-gateway@.service'].verifyAs);
    mkdirSync(join(scratch, 'broken'), { recursive: true });
    writeFileSync(broken, readFileSync(template, 'utf8').replace('StateDirectory=codex-image-gateway ', 'StateDirectory=/var/lib/'));
    const res = spawnSync(analyze!, ['verify', broken], { cwd: scratch, encoding: 'utf8' });
    expect(`${res.stdout}${res.stderr}`).toContain('StateDirectory= path is absolute, ignoring: /var/lib/codex-image-gateway/serve-19091');
  });
});
