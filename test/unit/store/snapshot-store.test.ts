import { describe, expect, it } from 'vitest';
import { SnapshotStore } from '../../../src/store/snapshot-store.js';
import { makeSnapshot } from '../../support/snapshot-fixtures.js';

const snapshot = (loadedAt: number) => ({ ...makeSnapshot([], []), loadedAt });

describe('SnapshotStore', () => {
  it('is not ready before the first load, ready after, and not ready once the database stops answering', async () => {
    let t = 1_000;
    let failing = false;
    const store = new SnapshotStore({
      load: async () => {
        if (failing) throw new Error('database down');
        return snapshot(t);
      },
      pollMs: 100,
      now: () => t,
    });
    expect(store.isReady()).toBe(false);
    await store.reload();
    expect(store.isReady()).toBe(true);
    failing = true;
    t += 250;
    await store.reload();
    expect(store.isReady()).toBe(true); // within three poll periods of the last answer
    t += 100;
    await store.reload();
    expect(store.isReady()).toBe(false);
    expect(store.current()?.loadedAt).toBe(1_000); // the last good snapshot keeps serving
    failing = false;
    await store.reload();
    expect(store.isReady()).toBe(true);
  });

  it('coalesces a burst of change notifications into at most one extra load', async () => {
    let loads = 0;
    let release: () => void = () => {};
    const store = new SnapshotStore({
      load: () => {
        loads += 1;
        return new Promise((resolve) => {
          release = () => resolve(snapshot(loads));
        });
      },
      pollMs: 10_000,
    });
    const first = store.reload();
    for (let i = 0; i < 10; i += 1) void store.reload();
    release();
    await first;
    await new Promise((r) => setImmediate(r));
    release();
    await new Promise((r) => setImmediate(r));
    expect(loads).toBe(2);
  });

  it('start() fails loudly when the first load fails, and reports later failures', async () => {
    const errors: unknown[] = [];
    const failing = new SnapshotStore({ load: async () => Promise.reject(new Error('no db')), pollMs: 1_000, onError: (e) => errors.push(e) });
    await expect(failing.start()).rejects.toThrow('control data could not be loaded');
    expect(errors).toHaveLength(1);
    await failing.close();
  });

  it('is not ready while the master key does not match, and ready again once it does; onLoad sees each snapshot', async () => {
    let matches = false;
    const seen: boolean[] = [];
    const store = new SnapshotStore({
      load: async () => ({ ...makeSnapshot([], []), masterKeyMatches: matches }),
      pollMs: 100,
      now: () => 0,
      onLoad: (s) => seen.push(s.masterKeyMatches),
    });
    await store.reload();
    expect(store.isReady()).toBe(false);
    matches = true;
    await store.reload();
    expect(store.isReady()).toBe(true);
    expect(seen).toEqual([false, true]);
  });
});
