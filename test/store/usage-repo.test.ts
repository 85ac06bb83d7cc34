import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { insertKey } from '../../src/store/key-repo.js';
import { migrate } from '../../src/store/migrator.js';
import type { KeyRecord, KeyUsageDelta } from '../../src/store/types.js';
import { applyUsageDeltas, findKeyUsage, listKeyUsage, mergeUsageDeltas } from '../../src/store/usage-repo.js';
import { describeEachBackend } from '../support/databases.js';
import { makeKey } from '../support/snapshot-fixtures.js';

const KEY_A = 'key_00000000000000000000000a';
const KEY_B = 'key_00000000000000000000000b';
const GONE = 'key_0000000000000000000000ff';

function delta(keyId: string, overrides: Partial<KeyUsageDelta> = {}): KeyUsageDelta {
  return {
    keyId,
    requests: 1,
    successes: 1,
    images: 2,
    inputTokens: 3,
    outputTokens: 4,
    totalTokens: 7,
    usageMissing: 0,
    estimatedCostMicros: 0,
    lastUsedAt: 100,
    ...overrides,
  };
}

/** A key row for the usage tests: only the id, name and hash matter here. */
const keyRecord = (id: string): KeyRecord => makeKey({ id, name: id.slice(-1), hash: id.slice(-1).repeat(64), prefix: 'cig_x', createdAt: 1, updatedAt: 1 });

describeEachBackend('applyUsageDeltas', ({ database }) => {
  beforeAll(async () => {
    const { db } = database();
    await migrate(db);
    await db.transaction(async (tx) => {
      await insertKey(tx, keyRecord(KEY_A));
      await insertKey(tx, keyRecord(KEY_B));
    });
  });
  beforeEach(async () => {
    await database().db.query('DELETE FROM key_usage');
  });

  it('creates the row on first use and increments it afterwards', async () => {
    const { db } = database();
    await applyUsageDeltas(db, [delta(KEY_A)]);
    await applyUsageDeltas(db, [delta(KEY_A, { requests: 2, successes: 0, usageMissing: 1, totalTokens: 10, estimatedCostMicros: 167_000, lastUsedAt: 200 })]);
    expect(await findKeyUsage(db, KEY_A)).toEqual({
      keyId: KEY_A,
      requests: 3,
      successes: 1,
      images: 4,
      inputTokens: 6,
      outputTokens: 8,
      totalTokens: 17,
      usageMissing: 1,
      estimatedCostMicros: 167_000,
      lastUsedAt: 200,
    });
  });

  it('gives exact totals under 50 concurrent batches', async () => {
    const { db } = database();
    await Promise.all(Array.from({ length: 50 }, (_, i) => applyUsageDeltas(db, [delta(KEY_A, { lastUsedAt: 1_000 + i }), delta(KEY_B, { totalTokens: i })])));
    const [a, b] = await listKeyUsage(db);
    expect(a).toMatchObject({ keyId: KEY_A, requests: 50, successes: 50, images: 100, totalTokens: 350, lastUsedAt: 1_049 });
    expect(b).toMatchObject({ keyId: KEY_B, requests: 50, totalTokens: (49 * 50) / 2 });
  });

  it('drops a delta for a deleted key without failing the rest of the batch', async () => {
    const { db } = database();
    await applyUsageDeltas(db, [delta(GONE), delta(KEY_B)]);
    expect((await listKeyUsage(db)).map((u) => u.keyId)).toEqual([KEY_B]);
  });

  it('never moves last_used_at backwards', async () => {
    const { db } = database();
    await applyUsageDeltas(db, [delta(KEY_A, { lastUsedAt: 500 })]);
    await applyUsageDeltas(db, [delta(KEY_A, { lastUsedAt: 400 })]);
    expect((await findKeyUsage(db, KEY_A))?.lastUsedAt).toBe(500);
  });

  it('folds several deltas for one key in one batch', async () => {
    const { db } = database();
    await applyUsageDeltas(db, [delta(KEY_A), delta(KEY_A, { lastUsedAt: 50 }), delta(KEY_A)]);
    expect(await findKeyUsage(db, KEY_A)).toMatchObject({ requests: 3, totalTokens: 21, lastUsedAt: 100 });
  });

  it('does nothing for an empty batch', async () => {
    await applyUsageDeltas(database().db, []);
    expect(await listKeyUsage(database().db)).toEqual([]);
  });

  it('keeps values above 2^31 exact', async () => {
    const { db } = database();
    const big = 2 ** 40 + 3;
    await applyUsageDeltas(db, [delta(KEY_A, { totalTokens: big, lastUsedAt: 1_760_000_000_000 })]);
    expect(await findKeyUsage(db, KEY_A)).toMatchObject({ totalTokens: big, lastUsedAt: 1_760_000_000_000 });
  });
});

describe('mergeUsageDeltas', () => {
  it('sums per key, keeps the latest time, and sorts by key id', () => {
    expect(mergeUsageDeltas([delta('k2'), delta('k1', { lastUsedAt: 7 }), delta('k2', { requests: 4, lastUsedAt: 300 })])).toEqual([
      delta('k1', { lastUsedAt: 7 }),
      delta('k2', { requests: 5, successes: 2, images: 4, inputTokens: 6, outputTokens: 8, totalTokens: 14, lastUsedAt: 300 }),
    ]);
  });

  it.each([
    ['negative', -3, 0],
    ['fractional', 2.9, 2],
    ['NaN', Number.NaN, 0],
    ['infinite', Number.POSITIVE_INFINITY, 0],
  ])('clamps a %s counter', (_label, value, expected) => {
    expect(mergeUsageDeltas([delta('k', { images: value })])[0]?.images).toBe(expected);
  });

  it('does not modify its input', () => {
    const input = [delta('k'), delta('k')];
    const copy = structuredClone(input);
    mergeUsageDeltas(input);
    expect(input).toEqual(copy);
  });
});
