import { GatewayError } from '../errors/codes.js';
import { notifyControlChanged, type ControlTopic } from '../store/change-feed.js';
import { isDbErrorCode, PG_ERROR_CODES, type Db, type DbTx } from '../store/db.js';

/** How to word a unique-name clash for the record being written. */
export interface WriteContext {
  topic: ControlTopic;
  /** `key`, `account`, `group`: used in the conflict message. */
  noun: string;
  /** The name being written, if any (for the conflict message). */
  name?: string;
}

/**
 * Runs one control-data write in a transaction that ends with NOTIFY (delivered on commit, so the
 * data plane reloads only what was committed). A unique-name violation becomes
 * GatewayError('conflict') — the database is the arbiter, so two concurrent creates cannot both win.
 */
export async function runControlWrite<T>(db: Db, context: WriteContext, fn: (tx: DbTx) => Promise<T>): Promise<T> {
  try {
    return await db.transaction(async (tx) => {
      const result = await fn(tx);
      await notifyControlChanged(tx, context.topic);
      return result;
    });
  } catch (err) {
    if (isDbErrorCode(err, PG_ERROR_CODES.uniqueViolation)) {
      const article = /^[aeiou]/.test(context.noun) ? 'an' : 'a';
      const what = context.name === undefined ? `that ${context.noun}` : `${article} ${context.noun} named \`${context.name}\``;
      throw new GatewayError('conflict', `${what} already exists`, 'name', { cause: err });
    }
    throw err;
  }
}
