/** Accounts: list with runtime health, import, edit, clear cooldown, delete. */
import { useCallback, useState } from 'preact/hooks';
import { api, describeError } from '../api.js';
import type { Account, AccountHealth } from '../types.js';
import { ConfirmButton, ErrorNote, Section, formatCountdown, formatTime, useLoad, useNow } from '../ui.js';
import { EditAccountForm, ImportAccountForm } from './account-forms.js';
import { DailySparkline, type DailyImages, useDailyImages } from './daily-sparkline.js';

type Row = { account: Account; health: AccountHealth | null };

async function loadAccounts(): Promise<{ rows: Row[]; gatewaysDown: string[] }> {
  const [accounts, health] = await Promise.all([
    api.get<{ data: Account[] }>('/accounts'),
    api.get<{ data: AccountHealth[]; gateways: Array<{ gateway: string; ok: boolean }> }>('/accounts/health'),
  ]);
  const byId = new Map(health.data.map((h) => [h.id, h]));
  return {
    rows: accounts.data.map((account) => ({ account, health: byId.get(account.id) ?? null })),
    gatewaysDown: health.gateways.filter((g) => !g.ok).map((g) => g.gateway),
  };
}

function AccountRow({ row, now, daily, onChanged }: { row: Row; now: number; daily: DailyImages | null; onChanged: () => Promise<void> }) {
  const [editing, setEditing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const a = row.account;
  const path = `/accounts/${encodeURIComponent(a.id)}`;
  const act = (run: () => Promise<unknown>) => async () => {
    try {
      await run();
      setError(null);
      await onChanged();
    } catch (err) {
      setError(describeError(err));
    }
  };
  const cooldowns = row.health?.cooldowns ?? [];
  return (
    <article class="item" aria-label={`Account ${a.name}`}>
      <div class="item-head">
        <h3>{a.name}</h3>
        <span class={`badge ${a.status}`}>{a.status}</span>
        {a.needs_reimport ? <span class="badge bad">needs re-import</span> : null}
      </div>
      <dl class="facts">
        <dt>Plan</dt>
        <dd>{a.plan_type ?? '—'}</dd>
        <dt>Image access</dt>
        <dd>{a.image_enabled ? 'on' : 'off'}</dd>
        <dt>Concurrency</dt>
        <dd data-testid="account-concurrency">{a.image_concurrency}</dd>
        <dt>In flight</dt>
        <dd>{row.health?.in_flight ?? '—'}</dd>
        <dt>Last 30 days</dt>
        <dd>
          <DailySparkline id={a.id} name={a.name} daily={daily} />
        </dd>
        <dt>Token expires</dt>
        <dd>
          {a.access_token_expires_at === null ? (
            'unknown'
          ) : (
            <time dateTime={new Date(a.access_token_expires_at).toISOString()}>{formatCountdown(a.access_token_expires_at - now)}</time>
          )}
        </dd>
        <dt>Last refresh</dt>
        <dd>{formatTime(a.last_refresh_at)}</dd>
        <dt>Proxy</dt>
        <dd>{a.proxy ?? 'direct'}</dd>
        <dt>Last error</dt>
        <dd class={a.last_error ? 'bad-text' : ''}>{a.last_error ?? '—'}</dd>
        <dt>Cooldown</dt>
        <dd>
          {cooldowns.length === 0
            ? 'none'
            : cooldowns.map((c) => (
                <span class="cooldown">
                  {c.cause} on {c.gateway}, {formatCountdown(c.until_ms - now)} left{c.failures > 0 ? ` (${c.failures} failures)` : ''}
                </span>
              ))}
        </dd>
      </dl>
      <ErrorNote message={error} />
      {editing ? (
        <EditAccountForm
          account={a}
          onCancel={() => setEditing(false)}
          onDone={async () => {
            setEditing(false);
            await onChanged();
          }}
        />
      ) : (
        <div class="actions">
          <button type="button" onClick={() => setEditing(true)}>
            Edit
          </button>
          {cooldowns.length > 0 ? (
            <button type="button" onClick={act(() => api.delete(`${path}/cooldown`))}>
              Clear cooldown
            </button>
          ) : null}
          <ConfirmButton label="Delete" question={`Delete account ${a.name}?`} onConfirm={act(() => api.delete(path))} />
        </div>
      )}
    </article>
  );
}

/** The Accounts page (health refreshes every 5 s). */
export function AccountsPage() {
  const load = useCallback(loadAccounts, []);
  const accounts = useLoad(load, 5_000);
  const daily = useDailyImages('account');
  const now = useNow();
  return (
    <>
      <h1>Accounts</h1>
      <Section title="Import account">
        <ImportAccountForm onDone={accounts.reload} />
      </Section>
      <ErrorNote message={accounts.error} />
      {accounts.data && accounts.data.gatewaysDown.length > 0 ? (
        <p class="error" role="alert">
          No answer from: {accounts.data.gatewaysDown.join(', ')} (their in-flight counts and cooldowns are missing).
        </p>
      ) : null}
      <div class="list">
        {accounts.data?.rows.length === 0 ? <p>No accounts yet.</p> : null}
        {accounts.data?.rows.map((row) => (
          <AccountRow key={row.account.id} row={row} now={now} daily={daily} onChanged={accounts.reload} />
        ))}
      </div>
    </>
  );
}
