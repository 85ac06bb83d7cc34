import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/cli-process.js';
import { findSystemTool } from '../support/system-tool.js';

const shellcheck = findSystemTool('shellcheck', 'apt-get install shellcheck');

/** Every shell script the project ships or runs: deploy/*.sh, .ci/run and the test supervisor stand-in. */
const SCRIPTS = [
  ...readdirSync(join(REPO_ROOT, 'deploy'))
    .filter((f) => f.endsWith('.sh'))
    .map((f) => `deploy/${f}`),
  '.ci/run',
  'test/support/fake-systemctl.sh',
];

describe.skipIf(!shellcheck)('shellcheck', () => {
  it('finds the deploy scripts', () => {
    expect(SCRIPTS).toEqual(expect.arrayContaining(['deploy/release.sh', 'deploy/activate.sh']));
  });

  it.each(SCRIPTS)('%s is clean (every severity, bash dialect)', (script) => {
    const res = spawnSync(shellcheck!, ['--severity=style', '--external-sources', script], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(res.stdout + res.stderr, script).toBe('');
    expect(res.status).toBe(0);
  });

  it('is not vacuous: it reports a known defect', () => {
    const res = spawnSync(shellcheck!, ['--shell=bash', '-'], { input: 'rm -rf $dir/x\n', encoding: 'utf8' });
    expect(res.status).not.toBe(0);
    expect(res.stdout).toContain('SC2086');
  });

  it.each(SCRIPTS)('%s is executable and parses with bash -n', (script) => {
    expect(() => execFileSync('bash', ['-n', script], { cwd: REPO_ROOT })).not.toThrow();
    expect(spawnSync('test', ['-x', join(REPO_ROOT, script)]).status, `${script} must be chmod +x`).toBe(0);
  });
});
