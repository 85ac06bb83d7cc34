import { beforeAll, beforeEach, expect, it } from 'vitest';
import { openCapability } from '../../src/store/capability-seal.js';
import { migrate } from '../../src/store/migrator.js';
import { HOSTED_RESULT_TOKEN_PREFIX, HostedResults } from '../../src/store/hosted-results.js';
import { describeEachBackend } from '../support/databases.js';
import { makePng } from '../support/images.js';

const TTL_MS = 60_000;
const PNG = makePng(32, 32);

describeEachBackend('hosted results', ({ database }) => {
  let now = 1_000_000;
  let results: HostedResults;
  beforeAll(async () => {
    await migrate(database().db);
  });
  beforeEach(async () => {
    await database().db.query('DELETE FROM hosted_results');
    now = 1_000_000;
    results = new HostedResults({ db: database().db, ttlMs: TTL_MS, now: () => now });
  });

  it('stores an image whole and opens it with its token, until it expires', async () => {
    const token = await results.store(PNG, 'image/png');
    expect(token).toMatch(/^imgres_[A-Za-z0-9_-]{43}$/);
    expect(await results.open(token)).toEqual({ contentType: 'image/png', bytes: PNG, expiresAt: 1_000_000 + TTL_MS });
    now += TTL_MS - 1;
    expect(await results.open(token)).not.toBeNull();
    now += 1;
    expect(await results.open(token)).toBeNull();
  });

  it('stores an image given in pieces, committed only by commit()', async () => {
    const upload = results.begin();
    for (let i = 0; i < PNG.length; i += 100) upload.write(PNG.subarray(i, i + 100));
    expect(await results.open(upload.token)).toBeNull();
    await upload.commit('image/png');
    expect((await results.open(upload.token))?.bytes).toEqual(PNG);
  });

  it('the row holds the hash and ciphertext only: no token, no image bytes', async () => {
    const token = await results.store(PNG, 'image/png');
    const rows = await database().db.query<{ id_hash: string; sealed: Buffer }>('SELECT id_hash, sealed FROM hosted_results');
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row.id_hash).toBe(openCapability(HOSTED_RESULT_TOKEN_PREFIX, token)!.idHash);
    expect(JSON.stringify(row)).not.toContain(token.slice(HOSTED_RESULT_TOKEN_PREFIX.length));
    expect(row.sealed.includes(PNG.subarray(40, 72))).toBe(false);
    expect(row.sealed.includes(PNG.subarray(0, 8))).toBe(false);
  });

  it.each([
    ['unknown', `imgres_${'A'.repeat(43)}`],
    ['malformed', 'imgres_short'],
    ['another prefix', `imgjob_${'A'.repeat(43)}`],
    ['empty', ''],
  ])('an %s token opens nothing', async (_name, token) => {
    await results.store(PNG, 'image/png');
    expect(await results.open(token)).toBeNull();
  });

  it('a changed ciphertext opens nothing', async () => {
    const token = await results.store(PNG, 'image/png');
    await database().db.query("UPDATE hosted_results SET sealed = sealed || '\\x00'::bytea");
    expect(await results.open(token)).toBeNull();
  });

  it('refuses a content type outside PNG, JPEG and WebP (the table CHECK)', async () => {
    await expect(results.store(PNG, 'image/gif' as 'image/png')).rejects.toThrow();
  });

  it('sweep deletes the expired rows and only them', async () => {
    const old = await results.store(PNG, 'image/png');
    now += 10_000;
    const young = await results.store(PNG, 'image/png');
    now = 1_000_000 + TTL_MS;
    expect(await results.sweep()).toBe(1);
    expect(await results.sweep()).toBe(0);
    now = 1_000_000; // the rows themselves are checked, not the clock: the old one is gone
    expect(await results.open(old)).toBeNull();
    expect(await results.open(young)).not.toBeNull();
  });
});
