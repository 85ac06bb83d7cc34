import { beforeAll, beforeEach, expect, it } from 'vitest';
import type { DbQuerier } from '../../src/store/db.js';
import {
  beatInstance,
  INSTANCE_DEAD_AFTER_BEATS,
  INSTANCE_RETENTION_MS,
  isInstanceLive,
  listInstances,
  markInstanceStopped,
  pruneInstances,
  type InstanceBeat,
} from '../../src/store/instance-repo.js';
import { migrate } from '../../src/store/migrator.js';
import { describeEachBackend } from '../support/databases.js';

const SERVE = 'inst_00000000000000a1';
const CONTROL = 'inst_00000000000000c1';
const beatOf = (over: Partial<InstanceBeat> & Pick<InstanceBeat, 'id' | 'now'>): InstanceBeat => ({
  role: 'serve',
  version: '1.2.3',
  hostname: 'host-a',
  pid: 4242,
  heartbeatMs: 1_000,
  listenUrl: null,
  adminUrl: null,
  statusUrl: null,
  ...over,
});
const byId = async (db: DbQuerier, id: string) => (await listInstances(db)).find((r) => r.id === id);

describeEachBackend('instance registry rows', ({ database }) => {
  beforeAll(async () => {
    await migrate(database().db);
  });
  beforeEach(async () => {
    await database().db.query('DELETE FROM gateway_instances');
  });

  it('the instance-registry migration gives gateway_instances the registry columns, with the role checked', async () => {
    const { db } = database();
    const columns = await db.query<{ column_name: string }>(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'gateway_instances' ORDER BY column_name",
    );
    expect(columns.map((c) => c.column_name)).toEqual([
      'admin_url',
      'heartbeat_at',
      'heartbeat_ms',
      'hostname',
      'id',
      'listen_url',
      'pid',
      'role',
      'started_at',
      'status_url',
      'stopped_at',
      'version',
    ]);
    await expect(beatInstance(db, beatOf({ id: SERVE, now: 1, role: 'worker' as 'serve' }))).rejects.toThrow();
  });

  it('a first beat inserts the row; later beats move last-seen and the addresses, never the start time', async () => {
    const { db } = database();
    await beatInstance(db, beatOf({ id: SERVE, now: 1_000 }));
    expect(await byId(db, SERVE)).toEqual({
      id: SERVE,
      role: 'serve',
      version: '1.2.3',
      hostname: 'host-a',
      pid: 4242,
      heartbeatMs: 1_000,
      listenUrl: null,
      adminUrl: null,
      statusUrl: null,
      startedAt: 1_000,
      heartbeatAt: 1_000,
      stoppedAt: null,
    });
    const addresses = { listenUrl: 'http://0.0.0.0:19082', adminUrl: null, statusUrl: 'http://host-a:19082' };
    await beatInstance(db, beatOf({ id: SERVE, now: 2_000, ...addresses }));
    expect(await byId(db, SERVE)).toMatchObject({ ...addresses, startedAt: 1_000, heartbeatAt: 2_000 });
  });

  it('lists every role; a clean stop is marked and the row stays until pruned', async () => {
    const { db } = database();
    await beatInstance(db, beatOf({ id: SERVE, now: 1_000 }));
    await beatInstance(db, beatOf({ id: CONTROL, role: 'control', now: 1_500, adminUrl: 'http://127.0.0.1:19083' }));
    await markInstanceStopped(db, SERVE, 3_000);
    const rows = await listInstances(db);
    expect(rows.map((r) => [r.id, r.role, r.stoppedAt])).toEqual([
      [CONTROL, 'control', null],
      [SERVE, 'serve', 3_000],
    ]);
    expect(await pruneInstances(db, 1_200)).toBe(1);
    expect((await listInstances(db)).map((r) => r.id)).toEqual([CONTROL]);
  });

  it('a stale row turns dead after INSTANCE_DEAD_AFTER_BEATS of its own periods; a stopped one is never live', async () => {
    const { db } = database();
    await beatInstance(db, beatOf({ id: SERVE, now: 10_000, heartbeatMs: 1_000 }));
    const row = (await byId(db, SERVE))!;
    const deadline = 10_000 + INSTANCE_DEAD_AFTER_BEATS * 1_000;
    expect(isInstanceLive(row, deadline)).toBe(true);
    expect(isInstanceLive(row, deadline + 1)).toBe(false);
    await markInstanceStopped(db, SERVE, 10_500);
    expect(isInstanceLive((await byId(db, SERVE))!, 10_500)).toBe(false);
    // The same process beating again (a stop mark it outlived) is live again.
    await beatInstance(db, beatOf({ id: SERVE, now: 11_000 }));
    expect(isInstanceLive((await byId(db, SERVE))!, 11_000)).toBe(true);
    expect(INSTANCE_RETENTION_MS).toBeGreaterThan(INSTANCE_DEAD_AFTER_BEATS * 60_000);
  });
});
