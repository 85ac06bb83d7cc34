import { randomBytes } from 'node:crypto';
import { beforeAll, expect, it } from 'vitest';
import { createControlServices } from '../../src/control/control-services.js';
import { createCredentialCipher } from '../../src/control/credential-cipher.js';
import type { ControlApi } from '../../src/control/control-api.js';
import { DEFAULT_MODEL_ALIASES, isValidModelAlias, isValidUpstreamModel } from '../../src/images/model-aliases.js';
import { watchControlChanges } from '../../src/store/change-feed.js';
import { isDbErrorCode, PG_ERROR_CODES } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrator.js';
import { readSettings } from '../../src/store/settings-repo.js';
import { loadSnapshot } from '../../src/store/snapshot-loader.js';
import { describeEachBackend } from '../support/databases.js';
import { waitFor } from '../support/wait-for.js';

const cipher = createCredentialCipher(randomBytes(32));

/** Names on both sides of the shape rule, to hold the SQL CHECK and the code's check together. */
const SHAPE_SAMPLES = [
  'gpt-image-1',
  'gpt-image-*',
  'a',
  'a*',
  'ft:gpt-4o:org:x',
  'openai/dall-e-3',
  'x'.repeat(128),
  `${'x'.repeat(127)}*`,
  '',
  '*',
  '**',
  'a**',
  '*a',
  'a*b',
  '-a',
  '.a',
  'a b',
  'a\n',
  'é',
  'x'.repeat(129),
  `${'x'.repeat(128)}*`,
  "a'b",
  'a%',
];

describeEachBackend('model_aliases', ({ database }) => {
  let control: ControlApi;
  let clock = 10_000;

  beforeAll(async () => {
    await migrate(database().db);
    control = createControlServices({ db: database().db, cipher, now: () => clock });
  });

  it('a fresh database holds exactly DEFAULT_MODEL_ALIASES (the migration seed is the code table)', async () => {
    const rows = await database().db.query<{ alias: string; upstream_model: string; created_at: number }>(
      'SELECT alias, upstream_model, created_at FROM model_aliases',
    );
    const byAlias = (a: { alias: string }, b: { alias: string }) => (a.alias < b.alias ? -1 : 1);
    expect(rows.map((r) => ({ alias: r.alias, upstreamModel: r.upstream_model })).sort(byAlias)).toEqual([...DEFAULT_MODEL_ALIASES].sort(byAlias));
    for (const row of rows) expect(row.created_at).toBeGreaterThan(Date.UTC(2026, 0, 1));
  });

  it('the CHECK constraints accept exactly the names the code accepts', async () => {
    const rollback = new Error('rollback');
    /** True when the row passes the CHECKs; the insert is always rolled back. */
    const accepts = (alias: string, upstream: string) =>
      database()
        .db.transaction(async (tx) => {
          await tx.query('DELETE FROM model_aliases');
          await tx.query('INSERT INTO model_aliases VALUES ($1, $2, 0, 0)', [alias, upstream]);
          throw rollback;
        })
        .catch((err: unknown) => {
          if (err === rollback) return true;
          if (isDbErrorCode(err, PG_ERROR_CODES.checkViolation)) return false;
          throw err;
        });
    for (const name of SHAPE_SAMPLES) {
      expect(await accepts(name, 'gpt-image-2'), `alias ${JSON.stringify(name)}`).toBe(isValidModelAlias(name));
      expect(await accepts('probe', name), `upstream ${JSON.stringify(name)}`).toBe(isValidUpstreamModel(name));
    }
    expect(await database().db.query('SELECT alias FROM model_aliases')).toHaveLength(DEFAULT_MODEL_ALIASES.length);
  });

  it('set creates, then replaces the upstream model keeping createdAt; list is ordered by alias', async () => {
    clock = 20_000;
    const created = await control.modelAliases.set('  team-*  ', { upstreamModel: 'gpt-image-1.5' });
    expect(created).toEqual({ alias: 'team-*', upstreamModel: 'gpt-image-1.5', pattern: true, createdAt: 20_000, updatedAt: 20_000 });
    clock = 30_000;
    const replaced = await control.modelAliases.set('team-*', { upstreamModel: 'gpt-image-2' });
    expect(replaced).toMatchObject({ upstreamModel: 'gpt-image-2', createdAt: 20_000, updatedAt: 30_000 });
    const aliases = (await control.modelAliases.list()).map((v) => v.alias);
    expect(aliases).toContain('team-*');
    expect(aliases).toEqual([...aliases].sort());
  });

  it.each([
    ['', { upstreamModel: 'x' }, 'alias', 'alias is required'],
    ['*', { upstreamModel: 'x' }, 'alias', /^alias must be 1 to 128 characters/],
    ['bad name', { upstreamModel: 'x' }, 'alias', /^alias must be/],
    ['ok', { upstreamModel: 'pattern-*' }, 'upstream_model', /^upstream_model must be 1 to 128 characters/],
    ['ok', { upstreamModel: '' }, 'upstream_model', 'upstream_model is required'],
    ['ok', { upstreamModel: 42 }, 'upstream_model', 'upstream_model is required'],
    ['ok', { upstreamModel: 'x', extra: 1 }, 'extra', 'unknown field `extra`'],
  ])('set %j %j is invalid_request on %s', async (alias, input, param, message) => {
    const err = await control.modelAliases.set(alias, input as { upstreamModel: string }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'invalid_request', param });
    expect((err as Error).message).toMatch(message);
  });

  it('remove deletes one row; an unknown alias is not_found', async () => {
    await control.modelAliases.remove('team-*');
    expect((await control.modelAliases.list()).map((v) => v.alias)).not.toContain('team-*');
    await expect(control.modelAliases.remove('team-*')).rejects.toMatchObject({ code: 'not_found', param: 'alias' });
  });

  it('reset restores the defaults exactly, dropping added rows and bringing back removed ones', async () => {
    await control.modelAliases.set('extra', { upstreamModel: 'gpt-image-2' });
    await control.modelAliases.remove('dall-e-3');
    const reset = await control.modelAliases.reset();
    expect(reset.map((v) => ({ alias: v.alias, upstreamModel: v.upstreamModel })).sort((a, b) => (a.alias < b.alias ? -1 : 1))).toEqual(
      [...DEFAULT_MODEL_ALIASES].sort((a, b) => (a.alias < b.alias ? -1 : 1)),
    );
    expect(await control.modelAliases.list()).toEqual(reset);
  });

  it('every write announces itself on the control channel (topic model_aliases)', async () => {
    const { db } = database();
    const seen: string[] = [];
    const stop = await watchControlChanges(db, (payload) => seen.push(payload));
    try {
      await control.modelAliases.set('notify-me', { upstreamModel: 'gpt-image-2' });
      await control.modelAliases.remove('notify-me');
      await control.modelAliases.reset();
      await waitFor('three notifications', async () => (seen.length >= 3 ? seen : null));
      expect(seen).toEqual(['model_aliases', 'model_aliases', 'model_aliases']);
    } finally {
      await stop();
    }
  });

  it('the snapshot carries the rows and the strict switch', async () => {
    await control.modelAliases.set('my-model', { upstreamModel: 'gpt-image-1.5' });
    expect((await loadSnapshot(database().db, cipher)).settings.modelAliasesStrict).toBe(false);
    await control.settings.update({ modelAliasesStrict: true });
    const snapshot = await loadSnapshot(database().db, cipher);
    expect(snapshot.settings.modelAliasesStrict).toBe(true);
    expect(snapshot.modelAliases).toContainEqual(expect.objectContaining({ alias: 'my-model', upstreamModel: 'gpt-image-1.5' }));
    expect(snapshot.modelAliases.map((r) => r.alias)).toEqual((await control.modelAliases.list()).map((v) => v.alias));
  });

  it('modelAliasesStrict takes only true or false; a bad stored value falls back to false', async () => {
    await expect(control.settings.update({ modelAliasesStrict: 'yes' as unknown as boolean })).rejects.toMatchObject({
      code: 'invalid_request',
      param: 'model_aliases_strict',
      message: 'model_aliases_strict must be true or false',
    });
    await database().db.query(`UPDATE settings SET value = '1'::jsonb WHERE name = 'modelAliasesStrict'`);
    expect((await readSettings(database().db)).modelAliasesStrict).toBe(false);
  });
});
