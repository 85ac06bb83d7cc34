import type { Db, DbTx } from './db.js';

/** The NOTIFY channel every control-data write announces itself on. */
export const CONTROL_CHANNEL = 'cig_control_changed';

/** What changed (the payload); listeners may ignore it and reload everything. */
export type ControlTopic = 'keys' | 'accounts' | 'groups' | 'settings' | 'model_aliases';

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

/** The NOTIFY channel a data plane uses to say "the upstream refused this account's token" (payload: account id). */
export const AUTH_FAILED_CHANNEL = 'cig_account_auth_failed';

/**
 * Tells the control plane that the upstream answered 401 for an account, so it refreshes the token
 * now. A notification only (no control data is written); lost if no control plane listens, in which
 * case the periodic refresh scan still catches an expiring token.
 */
export async function notifyAccountAuthFailed(db: Db, accountId: string): Promise<void> {
  await db.query('SELECT pg_notify($1, $2)', [AUTH_FAILED_CHANNEL, accountId]);
}

/**
 * Calls `onFailure(accountId)` for every auth-failure notification (the refresher's trigger). The
 * reconnect payload is passed on as is; the refresher treats it as "scan everything now".
 * @returns a function that stops watching.
 */
export function watchAccountAuthFailures(db: Db, onFailure: (accountId: string) => void): Promise<() => Promise<void>> {
  return db.listen(AUTH_FAILED_CHANNEL, onFailure);
}
