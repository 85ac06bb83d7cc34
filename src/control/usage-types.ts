/** The usage reports' types: what the control API's `usage` answers (see ControlApi.usage). */
import type { KeyUsage } from '../store/types.js';
import type { UsageRollupGrouping, UsageRollupMeasures, UsageRollupTotals } from '../store/usage-rollup-repo.js';

/** What a usage report covers. */
export interface UsageReportQuery {
  /** Rollup rows whose hour (or day, past the hourly retention) starts in [sinceMs, untilMs). */
  sinceMs: number;
  untilMs: number;
  /** One or two groupings, at most one of them `day` or `hour` (days are UTC days). */
  by: readonly UsageRollupGrouping[];
  /** Only this key (id or name). */
  key?: string;
  /** Only this account (id or name). */
  account?: string;
}

/** A group's sums and the latency percentiles its histogram gives (null with no requests). */
export type UsageReportMeasures = UsageRollupMeasures & { latencyP50Ms: number | null; latencyP95Ms: number | null };

/** One group: its grouping values (ids, with names when the key or account still exists) and sums. */
export type UsageReportRow = UsageReportMeasures &
  Omit<UsageRollupTotals, keyof UsageRollupMeasures> & { keyName?: string | null; accountName?: string | null };

/** A usage report: the range, grouping and filters it answered for (ids), the totals, one row per group in group order. */
export interface UsageReport {
  since: number;
  until: number;
  by: readonly UsageRollupGrouping[];
  key: string | null;
  account: string | null;
  totals: UsageReportMeasures;
  rows: UsageReportRow[];
}

export interface UsageSummary {
  totals: Omit<KeyUsage, 'keyId' | 'lastUsedAt'> & { lastUsedAt: number | null };
  keys: Array<{ id: string; name: string } & Omit<KeyUsage, 'keyId'>>;
}
