import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildEnvExample, DEPLOY_VALUES, ENV_EXAMPLE_PATH, formatEnvDefault } from '../../deploy/build-env-example.js';
import { loadConfig } from '../../src/config/config.js';
import { CONFIG_FIELDS, type ConfigField } from '../../src/config/fields.js';

const EXAMPLE = readFileSync(ENV_EXAMPLE_PATH, 'utf8');
const FIELDS: ConfigField[] = Object.values(CONFIG_FIELDS);

/** KEY=value lines, commented (`#KEY=`) or set, as a map from key to { value, commented }. */
function parseEnvLines(text: string): Map<string, { value: string; commented: boolean }> {
  const out = new Map<string, { value: string; commented: boolean }>();
  for (const line of text.split('\n')) {
    const m = /^(#?)([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) out.set(m[2]!, { value: m[3]!, commented: m[1] === '#' });
  }
  return out;
}
const LINES = parseEnvLines(EXAMPLE);

describe('deploy/gateway.env.example', () => {
  it('is what deploy/build-env-example.ts writes (rerun it after changing src/config/fields.ts)', () => {
    expect(EXAMPLE).toBe(buildEnvExample());
  });

  it.each(FIELDS.map((f) => [f.env, f] as const))('lists %s with its default', (env, field) => {
    const line = LINES.get(env);
    expect(line, `${env} missing from the env example`).toBeDefined();
    expect(EXAMPLE).toContain(`# ${field.doc}\n# default: `);
    if (line!.commented) expect(line!.value).toBe(formatEnvDefault(field.default));
  });

  it('lists nothing that is not a setting', () => {
    expect([...LINES.keys()].sort()).toEqual(FIELDS.map((f) => f.env).sort());
  });

  it('sets exactly the deployment values, and each one is a valid setting', () => {
    const set = [...LINES].filter(([, l]) => !l.commented).map(([k, l]) => [k, l.value]);
    expect(Object.fromEntries(set)).toEqual(Object.fromEntries(Object.entries(DEPLOY_VALUES).map(([k, v]) => [k, v.value])));
    const env = Object.fromEntries(set) as Record<string, string>;
    const config = loadConfig(env);
    expect(config.trustedProxies).toEqual(['127.0.0.1', '::1']);
    expect(config.databaseUrl).toMatch(/^postgres:\/\//);
  });

  it('formats defaults the way the environment spells them', () => {
    expect(formatEnvDefault(null)).toBe('');
    expect(formatEnvDefault(['a', 'b'])).toBe('a,b');
    expect(formatEnvDefault([])).toBe('');
    expect(formatEnvDefault(false)).toBe('false');
    expect(formatEnvDefault(600_000)).toBe('600000');
  });

  it('every commented default loads back as the default (the example is copy-paste safe)', () => {
    const uncommented = Object.fromEntries([...LINES].filter(([, l]) => l.commented && l.value !== '').map(([k, l]) => [k, l.value]));
    expect(loadConfig(uncommented)).toEqual(loadConfig({}));
  });
});
