import type { Db } from '../store/db.js';
import { listKeys } from '../store/key-repo.js';
import { buildEmptyUsage, listKeyUsage, USAGE_COUNTERS } from '../store/usage-repo.js';
import { sumUsageRollups } from '../store/usage-rollup-repo.js';
import type { KeyUsage } from '../store/types.js';
import type { ControlApi, UsageSummary } from './control-api.js';

/** Usage reports over the stored per-key counters and the hourly/daily usage rollups. */
export function createUsageService({ db }: { db: Db }): ControlApi['usage'] {
  return {
    async summary() {
      const [keys, usage] = await Promise.all([listKeys(db), listKeyUsage(db)]);
      const byKey = new Map(usage.map((u) => [u.keyId, u]));
      return buildUsageSummary(keys.map((key) => ({ id: key.id, name: key.name, usage: byKey.get(key.id) ?? buildEmptyUsage(key.id) })));
    },
    async rollups(query) {
      return { since: query.sinceMs, until: query.untilMs, by: query.by, data: await sumUsageRollups(db, query) };
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
