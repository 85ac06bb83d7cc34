import { beforeAll, beforeEach, expect, it } from 'vitest';
import { insertKey } from '../../src/store/key-repo.js';
import { beatInstance, markInstanceStopped } from '../../src/store/instance-repo.js';
import { finishJob, insertJob, listJobs, markJobRunning, readJob, requestJobCancel, listCancelRequested, sweepJobs } from '../../src/store/job-repo.js';
import { migrate } from '../../src/store/migrator.js';
import type { DbQuerier } from '../../src/store/db.js';
import { describeEachBackend } from '../support/databases.js';
import { makeKey } from '../support/snapshot-fixtures.js';

const KEY = 'key_0000000000000000000000a1';
const hash = (c: string) => c.repeat(64);
const LIVE = 'inst_0000000000000001';
const DEAD = 'inst_0000000000000002';
const STOPPED = 'inst_0000000000000003';
const beat = (db: DbQuerier, id: string, now: number) =>
  beatInstance(db, { id, role: 'serve', version: '0.0.0', hostname: 'h', pid: 1, heartbeatMs: 200, listenUrl: null, adminUrl: null, statusUrl: null, now });

describeEachBackend('job rows', ({ database }) => {
  beforeAll(async () => {
    const { db } = database();
    await migrate(db);
    await db.transaction((tx) => insertKey(tx, makeKey({ id: KEY, name: 'jobs', hash: 'e'.repeat(64), prefix: 'cig_j', createdAt: 1, updatedAt: 1 })));
  });
  beforeEach(async () => {
    const { db } = database();
    await db.query('DELETE FROM image_jobs');
    await db.query('DELETE FROM gateway_instances');
  });

  it('queued → running → succeeded, once: a second end is refused', async () => {
    const { db } = database();
    await insertJob(db, { idHash: hash('a'), keyId: KEY, instanceId: LIVE, endpoint: 'generations', createdAt: 1_000 });
    expect(await markJobRunning(db, hash('a'), 2_000)).toBe(true);
    expect(await markJobRunning(db, hash('a'), 2_001)).toBe(false);
    const end = { status: 'succeeded' as const, httpStatus: 200, errorCode: null, resultSealed: Buffer.from([1, 2, 3]), finishedAt: 3_000, expiresAt: 9_000 };
    expect(await finishJob(db, hash('a'), end)).toBe(true);
    expect(await finishJob(db, hash('a'), { ...end, status: 'cancelled' })).toBe(false);
    expect(await readJob(db, hash('a'))).toMatchObject({
      status: 'succeeded',
      startedAt: 2_000,
      finishedAt: 3_000,
      expiresAt: 9_000,
      httpStatus: 200,
      resultSealed: Buffer.from([1, 2, 3]),
    });
    const [listed] = await listJobs(db, { limit: 10 });
    expect(listed).toMatchObject({ idHash: hash('a'), keyName: 'jobs', status: 'succeeded' });
    expect(listed).not.toHaveProperty('resultSealed');
  });

  it('a cancel asked of another instance is found by the instance that owns the job', async () => {
    const { db } = database();
    await insertJob(db, { idHash: hash('b'), keyId: KEY, instanceId: LIVE, endpoint: 'edits', createdAt: 1 });
    await requestJobCancel(db, hash('b'));
    expect(await listCancelRequested(db, LIVE)).toEqual([hash('b')]);
    expect(await listCancelRequested(db, DEAD)).toEqual([]);
  });

  it("the sweep: a silent or stopped instance's open jobs end instance_lost, old results expire, long-expired rows go", async () => {
    const { db } = database();
    await beat(db, LIVE, 10_000);
    await beat(db, DEAD, 1_000);
    await beat(db, STOPPED, 10_000);
    await markInstanceStopped(db, STOPPED, 10_000);
    await insertJob(db, { idHash: hash('c'), keyId: KEY, instanceId: LIVE, endpoint: 'generations', createdAt: 1 });
    await insertJob(db, { idHash: hash('d'), keyId: KEY, instanceId: DEAD, endpoint: 'generations', createdAt: 1 });
    await insertJob(db, { idHash: hash('e'), keyId: KEY, instanceId: STOPPED, endpoint: 'edits', createdAt: 1 });
    await insertJob(db, { idHash: hash('f'), keyId: KEY, instanceId: LIVE, endpoint: 'generations', createdAt: 1 });
    await finishJob(db, hash('f'), {
      status: 'succeeded',
      httpStatus: 200,
      errorCode: null,
      resultSealed: Buffer.from([9]),
      finishedAt: 2_000,
      expiresAt: 5_000,
    });
    expect(await sweepJobs(db, { now: 10_000, lostBefore: 8_000, deleteBefore: 0, resultTtlMs: 1_000 })).toEqual({ lost: 2, expired: 1, deleted: 0 });
    expect(await readJob(db, hash('c'))).toMatchObject({ status: 'queued' });
    expect(await readJob(db, hash('d'))).toMatchObject({ status: 'failed', errorCode: 'instance_lost', resultSealed: null });
    expect(await readJob(db, hash('e'))).toMatchObject({ status: 'failed', errorCode: 'instance_lost' });
    expect(await readJob(db, hash('f'))).toMatchObject({ status: 'expired', resultSealed: null });
    expect(await sweepJobs(db, { now: 20_000, lostBefore: 8_000, deleteBefore: 15_000, resultTtlMs: 1_000 })).toMatchObject({ deleted: 3 });
    expect(await readJob(db, hash('f'))).toBeNull();
  });
});
