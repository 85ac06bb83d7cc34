/** A key's budget on its card: each limit's use in the current period as a bar, when it resets, and the reset button. */
import { useState } from 'preact/hooks';
import { describeError, api } from '../api.js';
import type { Key } from '../types.js';
import { ConfirmButton, ErrorNote, formatCount, formatTime } from '../ui.js';
import { PERIOD_LABELS } from './key-form.js';

/** A measure's use against its limit: a bar that fills up, or the use alone when unlimited. */
function UsageBar({ label, used, limit, show }: { label: string; used: number; limit: number | null; show: (n: number) => string }) {
  if (limit === null) return <span>{show(used)} / unlimited</span>;
  return (
    <span class="quota">
      <meter min={0} max={Math.max(limit, 1e-9)} value={Math.min(used, limit)} high={limit * 0.9} aria-label={`${label} used`} />
      <span>
        {show(used)} / {show(limit)}
      </span>
    </span>
  );
}

const showUsd = (n: number): string => `$${n.toFixed(2)}`;

/** The budget facts of a key card (rows of its `<dl>`). */
export function BudgetFacts({ k }: { k: Key }) {
  const u = k.period_usage;
  const resetInPeriod = k.usage_reset_at !== null && k.usage_reset_at >= u.starts_at;
  return (
    <>
      <dt>Quota period</dt>
      <dd>
        {PERIOD_LABELS[k.quota_period]}
        {u.ends_at === null ? null : <span class="muted"> · resets {formatTime(u.ends_at)}</span>}
        {resetInPeriod ? <span class="muted"> · usage reset {formatTime(k.usage_reset_at)}</span> : null}
      </dd>
      <dt>Quota: images</dt>
      <dd>
        <UsageBar label="images" used={u.images} limit={k.quota_images} show={formatCount} />
      </dd>
      <dt>Quota: tokens</dt>
      <dd>
        <UsageBar label="tokens" used={u.tokens} limit={k.quota_tokens} show={formatCount} />
      </dd>
      <dt>Quota: est. cost</dt>
      <dd title="an estimate by the price table (Settings), never a bill">
        <UsageBar label="estimated cost" used={u.estimated_cost_usd} limit={k.quota_cost_usd} show={showUsd} />
      </dd>
    </>
  );
}

/** Starts the key's usage in its current period from zero, after a confirmation. */
export function ResetUsageButton({ k, onChanged }: { k: Key; onChanged: () => Promise<void> }) {
  const [error, setError] = useState<string | null>(null);
  const reset = async () => {
    try {
      await api.post(`/keys/${encodeURIComponent(k.id)}/reset-usage`, {});
      setError(null);
      await onChanged();
    } catch (err) {
      setError(describeError(err));
    }
  };
  return (
    <>
      <ConfirmButton label="Reset usage" question={`Start ${k.name}'s usage in this quota period from zero?`} onConfirm={reset} />
      <ErrorNote message={error} />
    </>
  );
}
