import { describe, expect, it } from 'vitest';
import { FIELD_LIMITS } from '../../../src/config/field-limits.js';
import { parseCorsOrigin } from '../../../src/store/cors-origin.js';
import { checkSettingValue, listSetting, SETTING_NAMES, SETTING_PARAMS, SETTING_RULES, SETTINGS_DEFAULTS } from '../../../src/store/settings-defaults.js';

const MAX_CORS_ORIGINS = FIELD_LIMITS.corsAllowedOrigins.max;
const ORIGIN_ITEM = "an origin: http(s)://host[:port], no path (for example https://app.example.com), or '*' alone";

describe('settings table integrity', () => {
  it.each(SETTING_NAMES)('%s has a rule, a wire name, and a default its own rule accepts unchanged', (name) => {
    expect(SETTING_RULES[name]).toBeTypeOf('function');
    expect(SETTING_PARAMS[name]).toMatch(/^[a-z][a-z0-9_]*$/);
    expect(checkSettingValue(name, SETTINGS_DEFAULTS[name])).toEqual({ ok: true, value: SETTINGS_DEFAULTS[name] });
  });

  it('CORS is off by default', () => {
    expect(SETTINGS_DEFAULTS.corsAllowedOrigins).toEqual([]);
  });
});

describe('parseCorsOrigin', () => {
  it.each([
    ['https://app.example.com', 'https://app.example.com'],
    ['HTTPS://App.Example.COM', 'https://app.example.com'],
    ['https://app.example.com/', 'https://app.example.com'],
    ['  http://localhost:5173  ', 'http://localhost:5173'],
    ['https://app.example.com:443', 'https://app.example.com'],
    ['http://app.example.com:80/', 'http://app.example.com'],
    ['https://app.example.com:8443', 'https://app.example.com:8443'],
    ['http://127.0.0.1:3000', 'http://127.0.0.1:3000'],
    ['http://[::1]:8080', 'http://[::1]:8080'],
    ['https://bücher.example', 'https://xn--bcher-kva.example'],
  ])('normalises %j to %j (what a browser sends)', (entry, origin) => expect(parseCorsOrigin(entry)).toBe(origin));

  it.each([
    '',
    '*',
    'app.example.com',
    '//app.example.com',
    'ftp://app.example.com',
    'file:///tmp/page.html',
    'null',
    'https://app.example.com/path',
    'https://app.example.com//',
    'https://app.example.com?x=1',
    'https://app.example.com#top',
    'https://user:pw@app.example.com',
    'https://*.example.com',
    'https://app .example.com',
    'https://app.example.com:99999',
    'https:\\\\app.example.com',
    'https://',
  ])('refuses %j', (entry) => expect(parseCorsOrigin(entry)).toBeNull());
});

describe('cors_allowed_origins rule', () => {
  const check = (value: unknown) => checkSettingValue('corsAllowedOrigins', value);

  it('normalises and deduplicates the list, keeping the first of each', () => {
    expect(check(['https://B.example.com/', 'http://localhost:5173', 'https://b.example.com:443'])).toEqual({
      ok: true,
      value: ['https://b.example.com', 'http://localhost:5173'],
    });
    expect(check([])).toEqual({ ok: true, value: [] });
    expect(check([' * '])).toEqual({ ok: true, value: ['*'] });
  });

  it.each([
    ['a string, not a list', 'https://app.example.com', `cors_allowed_origins must be a list of at most ${MAX_CORS_ORIGINS} entries`],
    ['null', null, `cors_allowed_origins must be a list of at most ${MAX_CORS_ORIGINS} entries`],
    [
      'too many entries',
      Array.from({ length: MAX_CORS_ORIGINS + 1 }, (_, i) => `https://h${i}.example.com`),
      `cors_allowed_origins must be a list of at most ${MAX_CORS_ORIGINS} entries`,
    ],
    ['a path', ['https://ok.example.com', 'https://app.example.com/app'], `cors_allowed_origins[1] must be ${ORIGIN_ITEM}`],
    ['a number entry', [443], `cors_allowed_origins[0] must be ${ORIGIN_ITEM}`],
    ["'*' with others", ['*', 'https://app.example.com'], "cors_allowed_origins: '*' must be the only entry when given"],
    ["an origin then '*'", ['https://app.example.com', '*'], "cors_allowed_origins: '*' must be the only entry when given"],
  ])('refuses %s', (_label, value, message) => expect(check(value)).toEqual({ ok: false, message }));
});

describe('listSetting (the generic list rule)', () => {
  const upper = listSetting({ maxItems: 2, describeItem: 'a word', parseItem: (s) => (/^[a-z]+$/.test(s) ? s.toUpperCase() : null) });

  it('maps each entry, drops duplicates, and names the first bad index', () => {
    expect(upper(['a', 'a'], 'p')).toEqual({ ok: true, value: ['A'] });
    expect(upper(['a', 'b', 'c'], 'p')).toEqual({ ok: false, message: 'p must be a list of at most 2 entries' });
    expect(upper(['a', '1'], 'p')).toEqual({ ok: false, message: 'p[1] must be a word' });
  });
});
