import { GatewayError } from '../errors/codes.js';
import { findAccount, listAccountNames } from '../store/account-repo.js';
import type { Db } from '../store/db.js';
import { findKey, listKeys } from '../store/key-repo.js';
import { buildEmptyUsage, listKeyUsage, USAGE_COUNTERS } from '../store/usage-repo.js';
import { sumUsageRollups } from '../store/usage-rollup-repo.js';
import type { KeyUsage } from '../store/types.js';
import type { ControlApi } from './control-api.js';
import type { UsageSummary } from './usage-types.js';
import { buildUsageReport } from './usage-report.js';

/** Usage reports over the stored per-key counters and the hourly/daily usage rollups. */
export function createUsageService({ db }: { db: Db }): ControlApi['usage'] {
  return {
    async summary() {
      const [keys, usage] = await Promise.all([listKeys(db), listKeyUsage(db)]);
      const byKey = new Map(usage.map((u) => [u.keyId, u]));
      return buildUsageSummary(keys.map((key) => ({ id: key.id, name: key.name, usage: byKey.get(key.id) ?? buildEmptyUsage(key.id) })));
    },
    async report(query) {
      const key = query.key === undefined ? null : await findKey(db, query.key);
      if (query.key !== undefined && !key) throw new GatewayError('not_found', 'key not found', 'key');
      const account = query.account === undefined ? null : await findAccount(db, query.account);
      if (query.account !== undefined && !account) throw new GatewayError('not_found', 'account not found', 'account');
      const [groups, keys, accounts] = await Promise.all([
        sumUsageRollups(db, { sinceMs: query.sinceMs, untilMs: query.untilMs, by: query.by, keyId: key?.id, accountId: account?.id }),
        listKeys(db),
        listAccountNames(db),
      ]);
      const frame = { since: query.sinceMs, until: query.untilMs, by: query.by, key: key?.id ?? null, account: account?.id ?? null };
      return buildUsageReport(frame, groups, {
        keys: new Map(keys.map((k) => [k.id, k.name])),
        accounts: new Map(accounts.map((a) => [a.id, a.name])),
      });
    },
  };
}

/** Totals and per-key rows; `lastUsedAt` of the totals is the latest of any key. */
export function buildUsageSummary(rows: ReadonlyArray<{ id: string; name: string; usage: KeyUsage }>): UsageSummary {
  const { keyId: _keyId, ...totals } = buildEmptyUsage('');
  for (const { usage } of rows) {
    for (const counter of USAGE_COUNTERS) totals[counter] += usage[counter];
    if (usage.lastUsedAt !== null) totals.lastUsedAt = Math.max(totals.lastUsedAt ?? 0, usage.lastUsedAt);
  }
  return {
    totals,
    keys: rows.map(({ id, name, usage }) => {
      const { keyId: _id, ...counters } = usage;
      return { id, name, ...counters };
    }),
  };
}
