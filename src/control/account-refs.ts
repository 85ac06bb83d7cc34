import { GatewayError } from '../errors/codes.js';
import { findAccount } from '../store/account-repo.js';
import type { DbQuerier } from '../store/db.js';

/** Account ids for names or ids, in order; a reference to nothing is a 400 naming it. */
export async function resolveAccountIds(tx: DbQuerier, refs: readonly string[], param: string): Promise<string[]> {
  const ids: string[] = [];
  for (const ref of refs) {
    const account = await findAccount(tx, ref);
    if (!account) throw new GatewayError('invalid_request', `unknown account \`${ref}\``, param);
    if (ids.includes(account.id)) throw new GatewayError('invalid_request', `${param} names account \`${account.name}\` twice`, param);
    ids.push(account.id);
  }
  return ids;
}
