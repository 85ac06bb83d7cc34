/**
 * Each key's and account's images per day over the last 30 days, from one usage report
 * (`by=day,key` or `by=day,account`) per page, drawn as a sparkline in its row.
 */
import { useCallback } from 'preact/hooks';
import { api } from '../api.js';
import { Sparkline } from '../charts.js';
import type { UsageReport } from '../types.js';
import { useLoad } from '../ui.js';
import { RANGE_PRESETS, buildPresetRange, buildUsagePath, listBuckets, readGroupId, type UsageGroup } from '../usage-data.js';

/** Images per day for each key or account id, oldest day first, 30 values each (today last). */
export type DailyImages = ReadonlyMap<string, number[]>;

async function loadDailyImages(group: UsageGroup): Promise<DailyImages> {
  const range = buildPresetRange('30d', Date.now());
  const report = await api.get<UsageReport>(buildUsagePath(range, ['day', group]));
  const buckets = listBuckets(range);
  const index = new Map(buckets.map((b, i) => [b, i]));
  const daily = new Map<string, number[]>();
  for (const row of report.rows) {
    const at = index.get(row.day ?? Number.NaN);
    if (at === undefined) continue;
    const id = readGroupId(row, group);
    const values = daily.get(id) ?? buckets.map(() => 0);
    values[at] = (values[at] ?? 0) + row.images;
    daily.set(id, values);
  }
  return daily;
}

/** The 30-day images of every key or account, loaded once per page (the counts move slowly). */
export function useDailyImages(group: UsageGroup): DailyImages | null {
  const load = useCallback(() => loadDailyImages(group), [group]);
  return useLoad(load).data;
}

/** A row's 30-day sparkline and total: nothing while the report loads, a flat line when it had no usage. */
export function DailySparkline({ id, name, daily }: { id: string; name: string; daily: DailyImages | null }) {
  if (daily === null) return null;
  const values = daily.get(id) ?? new Array<number>(RANGE_PRESETS['30d'].count).fill(0);
  const total = values.reduce((a, b) => a + b, 0);
  return (
    <span class="spark">
      <Sparkline label={`Images per day of ${name}, last 30 days: ${total} in all`} values={values} />
      {total.toLocaleString()} images
    </span>
  );
}
