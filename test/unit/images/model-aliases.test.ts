import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../../src/errors/codes.js';
import {
  DEFAULT_MODEL_ALIASES,
  MODEL_NAME_ECHO_CHARS,
  MODEL_NAME_MAX_CHARS,
  clipModelName,
  isValidModelAlias,
  isValidUpstreamModel,
  listModelNames,
  resolveImageModel,
  type ModelRouting,
} from '../../../src/images/model-aliases.js';

const DEFAULTS: ModelRouting = { aliases: DEFAULT_MODEL_ALIASES, strict: false, servedModels: ['gpt-image-2'] };
const STRICT: ModelRouting = { ...DEFAULTS, strict: true };

/** Served `gpt-image-2` and `served-x`; an exact row that shadows a served name; nested patterns. */
const CUSTOM: ModelRouting = {
  aliases: [
    { alias: 'served-x', upstreamModel: 'shadowed' },
    { alias: 'team-*', upstreamModel: 'up-short' },
    { alias: 'team-art-*', upstreamModel: 'up-long' },
    { alias: 'ft:gpt-4o:org:x', upstreamModel: 'up-ft' },
    { alias: 'openai/dall-e-3', upstreamModel: 'up-slash' },
  ],
  strict: false,
  servedModels: ['gpt-image-2', 'served-x', 'served-y'],
};

const errorOf = (fn: () => unknown): GatewayError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error('did not throw');
};

describe('DEFAULT_MODEL_ALIASES', () => {
  it('maps every OpenAI image model name and the three families to gpt-image-2', () => {
    expect(DEFAULT_MODEL_ALIASES.map((r) => r.alias)).toEqual([
      'gpt-image-1',
      'gpt-image-1.5',
      'gpt-image-1-mini',
      'chatgpt-image-latest',
      'dall-e-2',
      'dall-e-3',
      'gpt-image-*',
      'chatgpt-image-*',
      'dall-e-*',
    ]);
    for (const row of DEFAULT_MODEL_ALIASES) expect(row.upstreamModel).toBe('gpt-image-2');
  });

  it('every row has a valid shape and appears once', () => {
    for (const row of DEFAULT_MODEL_ALIASES) {
      expect(isValidModelAlias(row.alias), row.alias).toBe(true);
      expect(isValidUpstreamModel(row.upstreamModel)).toBe(true);
    }
    expect(new Set(DEFAULT_MODEL_ALIASES.map((r) => r.alias)).size).toBe(DEFAULT_MODEL_ALIASES.length);
  });
});

describe('resolveImageModel with the defaults (lenient)', () => {
  it.each([
    ['gpt-image-1', 'gpt-image-2'],
    ['gpt-image-1.5', 'gpt-image-2'],
    ['gpt-image-1-mini', 'gpt-image-2'],
    ['chatgpt-image-latest', 'gpt-image-2'],
    ['dall-e-2', 'gpt-image-2'],
    ['dall-e-3', 'gpt-image-2'],
    ['gpt-image-2', 'gpt-image-2'],
    ['gpt-image-2-2026-04-21', 'gpt-image-2'],
    ['gpt-image-7', 'gpt-image-2'],
    ['chatgpt-image-2027', 'gpt-image-2'],
    ['dall-e-4', 'gpt-image-2'],
  ])('%s → %s, requested kept', (name, upstream) => {
    expect(resolveImageModel(name, DEFAULTS)).toEqual({ requested: name, upstream });
  });

  it.each([undefined, null])('%s (absent) → the first served model, requested null', (absent) => {
    expect(resolveImageModel(absent, { ...CUSTOM, servedModels: ['served-y', 'gpt-image-2'] })).toEqual({ requested: null, upstream: 'served-y' });
  });

  it.each(['GPT-IMAGE-1', 'gpt-image', 'dall-e', ' gpt-image-1', 'gpt-image-1 ', 'chatgpt-image', 'x-gpt-image-1', '', 'stable-diffusion'])(
    'unknown %j → the default model (lenient), requested kept',
    (name) => expect(resolveImageModel(name, DEFAULTS)).toEqual({ requested: name, upstream: 'gpt-image-2' }),
  );

  it('throws a RangeError when no model is served (config guarantees one)', () => {
    expect(() => resolveImageModel('x', { ...DEFAULTS, servedModels: [] })).toThrow(RangeError);
  });
});

describe('resolveImageModel order: served name, exact row, longest pattern', () => {
  it.each([
    ['served-x', 'served-x'], // a served name is served as itself, even where a row has its spelling
    ['served-y', 'served-y'], // a served name is itself
    ['team-a', 'up-short'],
    ['team-art-1', 'up-long'], // the longest matching prefix wins, whatever the row order
    ['team-art-', 'up-long'],
    ['team-', 'up-short'],
    ['ft:gpt-4o:org:x', 'up-ft'],
    ['openai/dall-e-3', 'up-slash'],
  ])('%s → %s', (name, upstream) => {
    expect(resolveImageModel(name, CUSTOM).upstream).toBe(upstream);
    expect(resolveImageModel(name, { ...CUSTOM, aliases: [...CUSTOM.aliases].reverse() }).upstream).toBe(upstream);
  });

  it.each(['team', 'Team-a', 'ft:gpt-4o:org', 'openai/dall-e-3x'])('near miss %j → default', (name) => {
    expect(resolveImageModel(name, CUSTOM).upstream).toBe('gpt-image-2');
  });

  it('a pattern row never matches its own spelling as an exact row would, but the pattern still covers it', () => {
    expect(resolveImageModel('team-*', CUSTOM).upstream).toBe('up-short');
  });
});

describe('resolveImageModel strict', () => {
  it('known names resolve as in lenient mode', () => {
    expect(resolveImageModel('dall-e-3', STRICT)).toEqual({ requested: 'dall-e-3', upstream: 'gpt-image-2' });
    expect(resolveImageModel('gpt-image-2-2026-04-21', STRICT).upstream).toBe('gpt-image-2');
    expect(resolveImageModel(undefined, STRICT)).toEqual({ requested: null, upstream: 'gpt-image-2' });
  });

  it('an unknown name is unsupported_value on `model`, naming served, exact and pattern names', () => {
    const err = errorOf(() => resolveImageModel('stable-diffusion', STRICT));
    expect([err.code, err.status, err.param]).toEqual(['unsupported_value', 400, 'model']);
    expect(err.message).toBe(
      'model `stable-diffusion` is not supported; use one of: gpt-image-2, gpt-image-1, gpt-image-1.5, gpt-image-1-mini, ' +
        'chatgpt-image-latest, dall-e-2, dall-e-3, gpt-image-*, chatgpt-image-*, dall-e-*',
    );
  });

  it('never echoes more than 64 characters of the name, nor control characters', () => {
    const long = `evil${'x'.repeat(5_000)}`;
    const err = errorOf(() => resolveImageModel(long, STRICT));
    expect(err.message).toContain(`\`${long.slice(0, MODEL_NAME_ECHO_CHARS)}…\``);
    expect(err.message).not.toContain('x'.repeat(MODEL_NAME_ECHO_CHARS + 1));
    expect(errorOf(() => resolveImageModel('a\nb\u0000', STRICT)).message).toContain('`a?b?`');
  });

  it('cuts a long list of allowed names with "… and N more"', () => {
    const aliases = Array.from({ length: 200 }, (_, i) => ({ alias: `model-${String(i).padStart(3, '0')}`, upstreamModel: 'u' }));
    const err = errorOf(() => resolveImageModel('nope', { aliases, strict: true, servedModels: ['gpt-image-2'] }));
    expect(err.message.length).toBeLessThan(600);
    expect(err.message).toMatch(/… and \d+ more$/);
  });

  it('a name longer than MODEL_NAME_MAX_CHARS matches nothing, even a pattern', () => {
    const name = `gpt-image-${'1'.repeat(MODEL_NAME_MAX_CHARS)}`;
    expect(errorOf(() => resolveImageModel(name, STRICT)).code).toBe('unsupported_value');
    expect(resolveImageModel(name, DEFAULTS)).toEqual({ requested: clipModelName(name), upstream: 'gpt-image-2' });
  });
});

describe('requested is clipped for the log line', () => {
  it('keeps names up to 64 characters and clips longer ones', () => {
    const exact = 'g'.repeat(MODEL_NAME_ECHO_CHARS);
    expect(resolveImageModel(exact, DEFAULTS).requested).toBe(exact);
    expect(resolveImageModel(`${exact}h`, DEFAULTS).requested).toBe(`${exact}…`);
  });
});

describe('listModelNames', () => {
  it('lists served models, then exact aliases, once each, never patterns', () => {
    expect(listModelNames(DEFAULTS)).toEqual([
      'gpt-image-2',
      'gpt-image-1',
      'gpt-image-1.5',
      'gpt-image-1-mini',
      'chatgpt-image-latest',
      'dall-e-2',
      'dall-e-3',
    ]);
    expect(listModelNames(CUSTOM)).toEqual(['gpt-image-2', 'served-x', 'served-y', 'ft:gpt-4o:org:x', 'openai/dall-e-3']);
  });
});

describe('alias and upstream model shapes', () => {
  it.each(['gpt-image-1', 'gpt-image-*', 'a', 'a*', 'ft:gpt-4o:org:x', 'openai/dall-e-3', `${'x'.repeat(127)}*`, 'x'.repeat(128)])(
    'accepts alias %j',
    (alias) => {
      expect(isValidModelAlias(alias)).toBe(true);
    },
  );

  it.each(['', '*', '**', 'a**', '*a', 'a*b', '-a', '.a', 'a b', 'a\n', 'é', 'x'.repeat(129), `${'x'.repeat(128)}*`])('refuses alias %j', (alias) => {
    expect(isValidModelAlias(alias)).toBe(false);
  });

  it.each([
    ['gpt-image-2', true],
    ['a', true],
    ['x'.repeat(128), true],
    ['x'.repeat(129), false],
    ['gpt-image-*', false],
    ['', false],
    ['a b', false],
  ])('upstream model %j → %s', (name, ok) => expect(isValidUpstreamModel(name)).toBe(ok));
});
