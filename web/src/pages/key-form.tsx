/** The key create/edit form: same ranges as the API, and the API's message when it still refuses. */
import { useState } from 'preact/hooks';
import { FIELD_LIMITS } from '../../../src/config/field-limits.js';
import { describeError } from '../api.js';
import { QUOTA_PERIODS, type QuotaPeriod } from '../../../src/limits/budget-period.js';
import type { Key, Routing } from '../types.js';
import { describeLimitHint, ErrorNote, Field, FormActions, parseOptionalInt } from '../ui.js';

/** The body of POST /keys or PATCH /keys/:ref. */
export type KeyBody = {
  name: string;
  status: 'active' | 'disabled';
  image_enabled: boolean;
  quota_period: QuotaPeriod;
  quota_tokens: number | null;
  quota_images: number | null;
  quota_cost_usd: number | null;
  max_concurrency: number | null;
  min_start_interval_ms: number | null;
  routing: Routing;
  /** Sent only when the form changed it: an unchanged expiry in the past would be refused. */
  expires_at?: number | null;
};

const text = (n: number | null | undefined): string => (n === null || n === undefined ? '' : String(n));

/** How the period select names each quota period. */
export const PERIOD_LABELS: Record<QuotaPeriod, string> = { none: 'lifetime (never resets)', day: 'day', week: 'week (from Monday)', month: 'month' };

/** Dollars typed in the form: empty = unlimited; the API checks the range and decimals. */
function parseOptionalUsd(raw: string): number | null {
  if (raw.trim() === '') return null;
  const n = Number(raw.trim());
  if (!Number.isFinite(n) || n < 0) throw new Error('quota_cost_usd must be a number of US dollars, or empty for unlimited');
  return n;
}

/** ms → the `datetime-local` input's value, in the browser's time zone (minutes). */
function toLocalInput(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '';
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The `datetime-local` input's value (local time) → ms; empty = never. */
const fromLocalInput = (value: string): number | null => (value === '' ? null : new Date(value).getTime());

function buildRouting(mode: string, accounts: string, group: string): Routing {
  if (mode === 'accounts')
    return {
      mode: 'accounts',
      accounts: accounts
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    };
  if (mode === 'group') return { mode: 'group', group: group.trim() };
  return { mode: 'all' };
}

/** Create (no `initial`) or edit a key; `onSubmit` sends it and throws the API's error. */
export function KeyForm({
  initial,
  submitLabel,
  onSubmit,
  onCancel,
}: {
  initial?: Key;
  submitLabel: string;
  onSubmit: (body: KeyBody) => Promise<void>;
  onCancel?: () => void;
}) {
  const r = initial?.routing;
  const [name, setName] = useState(initial?.name ?? '');
  const [status, setStatus] = useState<'active' | 'disabled'>(initial?.status ?? 'active');
  const [imageEnabled, setImageEnabled] = useState(initial?.image_enabled ?? true);
  const [period, setPeriod] = useState<QuotaPeriod>(initial?.quota_period ?? 'none');
  const [quota, setQuota] = useState(text(initial?.quota_tokens));
  const [quotaImages, setQuotaImages] = useState(text(initial?.quota_images));
  const [quotaCost, setQuotaCost] = useState(text(initial?.quota_cost_usd));
  const [maxConc, setMaxConc] = useState(text(initial?.max_concurrency));
  const [minInterval, setMinInterval] = useState(text(initial?.min_start_interval_ms));
  const [mode, setMode] = useState<string>(r?.mode ?? 'all');
  const [accounts, setAccounts] = useState(r?.mode === 'accounts' ? r.accounts.join(', ') : '');
  const [group, setGroup] = useState(r?.mode === 'group' ? r.group : '');
  const [expires, setExpires] = useState(toLocalInput(initial?.expires_at));
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const id = initial?.id ?? 'new';
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      await onSubmit({
        name: name.trim(),
        status,
        image_enabled: imageEnabled,
        quota_period: period,
        quota_tokens: parseOptionalInt(quota, FIELD_LIMITS.keyQuotaTokens),
        quota_images: parseOptionalInt(quotaImages, FIELD_LIMITS.keyQuotaImages),
        quota_cost_usd: parseOptionalUsd(quotaCost),
        max_concurrency: parseOptionalInt(maxConc, FIELD_LIMITS.keyMaxConcurrency),
        min_start_interval_ms: parseOptionalInt(minInterval, FIELD_LIMITS.keyMinStartIntervalMs),
        routing: buildRouting(mode, accounts, group),
        ...(expires === toLocalInput(initial?.expires_at) ? {} : { expires_at: fromLocalInput(expires) }),
      });
      setError(null);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="form-grid" onSubmit={submit} aria-label={initial ? `Edit key ${initial.name}` : 'Create key'}>
      <Field label="Name">
        <input name="name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </Field>
      <Field label="Status">
        <select name="status" value={status} onChange={(e) => setStatus(e.currentTarget.value as 'active' | 'disabled')}>
          <option value="active">active</option>
          <option value="disabled">disabled</option>
        </select>
      </Field>
      <label class="check">
        <input type="checkbox" name="image_enabled" checked={imageEnabled} onChange={(e) => setImageEnabled(e.currentTarget.checked)} /> Image access
      </label>
      <Field label="Max concurrency" hint={describeLimitHint(FIELD_LIMITS.keyMaxConcurrency)}>
        <input name="max_concurrency" inputMode="numeric" value={maxConc} onInput={(e) => setMaxConc(e.currentTarget.value)} />
      </Field>
      <Field label="Min start interval (ms)" hint={describeLimitHint(FIELD_LIMITS.keyMinStartIntervalMs)}>
        <input name="min_start_interval_ms" inputMode="numeric" value={minInterval} onInput={(e) => setMinInterval(e.currentTarget.value)} />
      </Field>
      <Field label="Quota period" hint="what the quotas count over; day, week and month reset at midnight in the budget time zone (Settings)">
        <select name="quota_period" value={period} onChange={(e) => setPeriod(e.currentTarget.value as QuotaPeriod)}>
          {QUOTA_PERIODS.map((p) => (
            <option key={p} value={p}>
              {PERIOD_LABELS[p]}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Quota (usage tokens)" hint={describeLimitHint(FIELD_LIMITS.keyQuotaTokens)}>
        <input name="quota_tokens" inputMode="numeric" value={quota} onInput={(e) => setQuota(e.currentTarget.value)} />
      </Field>
      <Field label="Quota (images)" hint={describeLimitHint(FIELD_LIMITS.keyQuotaImages)}>
        <input name="quota_images" inputMode="numeric" value={quotaImages} onInput={(e) => setQuotaImages(e.currentTarget.value)} />
      </Field>
      <Field label="Quota (estimated cost, USD)" hint={`${describeLimitHint(FIELD_LIMITS.keyQuotaCostUsd)}; by the price table`}>
        <input name="quota_cost_usd" inputMode="decimal" value={quotaCost} onInput={(e) => setQuotaCost(e.currentTarget.value)} />
      </Field>
      <Field label="Expires" hint="empty = never; your local time">
        <input type="datetime-local" name="expires_at" value={expires} onInput={(e) => setExpires(e.currentTarget.value)} />
      </Field>
      <Field label="Routing">
        <select name="routing" value={mode} onChange={(e) => setMode(e.currentTarget.value)}>
          <option value="all">all accounts</option>
          <option value="accounts">fixed accounts</option>
          <option value="group">group</option>
        </select>
      </Field>
      {mode === 'accounts' ? (
        <Field label="Accounts" hint="names, comma-separated, in order">
          <input id={`routing-accounts-${id}`} name="routing_accounts" value={accounts} onInput={(e) => setAccounts(e.currentTarget.value)} />
        </Field>
      ) : null}
      {mode === 'group' ? (
        <Field label="Group">
          <input name="routing_group" value={group} onInput={(e) => setGroup(e.currentTarget.value)} />
        </Field>
      ) : null}
      <ErrorNote message={error} />
      <FormActions submitLabel={submitLabel} busy={busy} onCancel={onCancel} />
    </form>
  );
}
