import type { Db, DbTx } from './db.js';

/** The NOTIFY channel every control-data write announces itself on. */
export const CONTROL_CHANNEL = 'cig_control_changed';

/** What changed (the payload); listeners may ignore it and reload everything. */
export type ControlTopic = 'keys' | 'accounts' | 'groups' | 'settings';

/**
 * Announces a control-data change. Call it inside the writing transaction: Postgres delivers the
 * notification only on COMMIT, and never for a rolled-back transaction.
 */
export async function notifyControlChanged(tx: DbTx, topic: ControlTopic): Promise<void> {
  await tx.query('SELECT pg_notify($1, $2)', [CONTROL_CHANNEL, topic]);
}

/**
 * Calls `onChange` after every committed control-data write (and after a lost LISTEN connection
 * came back, since changes may have been missed). The data plane reloads its snapshot on it.
 * @returns a function that stops watching.
 */
export function watchControlChanges(db: Db, onChange: (payload: string) => void): Promise<() => Promise<void>> {
  return db.listen(CONTROL_CHANNEL, onChange);
}
