import { beforeAll, expect, it } from 'vitest';
import { CONTROL_CHANNEL, notifyAccountAuthFailed, notifyControlChanged, watchAccountAuthFailures, watchControlChanges } from '../../src/store/change-feed.js';
import { DB_RECONNECTED_PAYLOAD } from '../../src/store/db.js';
import { migrate } from '../../src/store/migrator.js';
import { LISTEN_APPLICATION_NAME } from '../../src/store/pg-db.js';
import { describeEachBackend } from '../support/databases.js';
import { waitFor } from '../support/wait-for.js';

describeEachBackend('control change feed', ({ kind, database }) => {
  beforeAll(async () => {
    await migrate(database().db);
  });

  it('delivers a NOTIFY after the writing transaction commits, and none for a rolled-back one', async () => {
    const { db } = database();
    const seen: string[] = [];
    const stop = await watchControlChanges(db, (payload) => seen.push(payload));
    try {
      await db
        .transaction(async (tx) => {
          await notifyControlChanged(tx, 'groups');
          throw new Error('roll back');
        })
        .catch(() => undefined);
      await db.transaction(async (tx) => {
        await tx.query("INSERT INTO settings (name, value, updated_at) VALUES ('logMaxFiles', '5', 1)");
        await notifyControlChanged(tx, 'settings');
      });
      await waitFor('the committed notification', () => seen.includes('settings'));
      // Notifications arrive in commit order: had the rolled-back one been sent, it would be here already.
      expect(seen).toEqual(['settings']);
    } finally {
      await stop();
    }
  });

  it("carries a data plane's 401 report (the account id) on its own channel, apart from control changes", async () => {
    const { db } = database();
    const failures: string[] = [];
    const changes: string[] = [];
    const stopFailures = await watchAccountAuthFailures(db, (id) => failures.push(id));
    const stopChanges = await watchControlChanges(db, (payload) => changes.push(payload));
    try {
      await notifyAccountAuthFailed(db, 'acct_0123456789abcdef');
      await waitFor('the auth-failure notification', () => failures.length === 1);
      expect(failures).toEqual(['acct_0123456789abcdef']);
      await db.transaction((tx) => notifyControlChanged(tx, 'keys'));
      await waitFor('the control notification', () => changes.includes('keys'));
      expect(changes).toEqual(['keys']);
      expect(failures).toEqual(['acct_0123456789abcdef']);
    } finally {
      await stopFailures();
      await stopChanges();
    }
  });

  it('holds the notification until COMMIT', async () => {
    const { db } = database();
    const seen: string[] = [];
    const stop = await watchControlChanges(db, (payload) => seen.push(payload));
    try {
      let seenInside: string[] = [];
      await db.transaction(async (tx) => {
        await notifyControlChanged(tx, 'keys');
        await tx.query('SELECT pg_sleep(0.05)');
        seenInside = [...seen];
      });
      expect(seenInside).toEqual([]);
      await waitFor('the notification after commit', () => seen.length === 1);
      expect(seen).toEqual(['keys']);
    } finally {
      await stop();
    }
  });

  it('stops delivering after the returned function is called; other listeners keep theirs', async () => {
    const { db } = database();
    const first: string[] = [];
    const second: string[] = [];
    const stopFirst = await watchControlChanges(db, (p) => first.push(p));
    const stopSecond = await watchControlChanges(db, (p) => second.push(p));
    await stopFirst();
    await db.transaction((tx) => notifyControlChanged(tx, 'accounts'));
    await waitFor('the second listener', () => second.length === 1);
    expect(first).toEqual([]);
    await stopSecond();
  });

  it('uses the documented channel', async () => {
    expect(CONTROL_CHANNEL).toBe('cig_control_changed');
    const { db } = database();
    const seen: string[] = [];
    const stop = await db.listen('cig_control_changed', (p) => seen.push(p));
    await db.query("SELECT pg_notify('cig_control_changed', 'raw')");
    await waitFor('a raw NOTIFY', () => seen.length === 1);
    await stop();
  });

  if (kind === 'postgres') {
    it('re-listens after the LISTEN connection is killed, and says so to listeners', async () => {
      const { db } = database();
      const seen: string[] = [];
      const stop = await watchControlChanges(db, (p) => seen.push(p));
      try {
        const killed = await db.query<{ ok: boolean }>(
          'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
          [LISTEN_APPLICATION_NAME],
        );
        expect(killed).toEqual([{ ok: true }]);
        await waitFor('the reconnect signal', () => seen.includes(DB_RECONNECTED_PAYLOAD), 10_000);
        await db.transaction((tx) => notifyControlChanged(tx, 'keys'));
        await waitFor('a notification on the new connection', () => seen.includes('keys'));
      } finally {
        await stop();
      }
    });
  }
});
