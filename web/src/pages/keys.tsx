/** Keys: list, create and rotate (each secret shown once), edit, delete. */
import { useCallback, useState } from 'preact/hooks';
import { api, describeError } from '../api.js';
import { formatUsdMicros } from '../../../src/pricing/format-usd.js';
import type { Key, Routing } from '../types.js';
import { ConfirmButton, ErrorNote, Field, FormActions, Notice, Section, formatCount, formatTime, useLoad } from '../ui.js';
import { DailySparkline, type DailyImages, useDailyImages } from './daily-sparkline.js';
import { BudgetFacts, ResetUsageButton } from './key-budget.js';
import { KeyForm, type KeyBody } from './key-form.js';

const describeRouting = (r: Routing): string =>
  r.mode === 'all' ? 'all accounts' : r.mode === 'group' ? `group ${r.group}` : `accounts ${r.accounts.join(', ')}`;

const limitText = (n: number | null, unit = ''): string => (n === null ? 'unlimited' : `${n.toLocaleString()}${unit}`);

/** A secret just made, shown once: `done` says what happened to the key ("created", "rotated: …"). */
function SecretOnce({ name, done, secret, onDone }: { name: string; done: string; secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState<string | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied('Copied.');
    } catch {
      setCopied('Copy failed: select the text and copy it by hand.');
    }
  };
  return (
    <section class="secret" aria-label="New key secret">
      <p>
        <strong>
          Key “{name}” {done}.
        </strong>{' '}
        Copy its secret now: it is shown only this once.
      </p>
      <output class="secret-value" data-testid="new-secret">
        {secret}
      </output>
      <div class="actions">
        <button type="button" class="primary" onClick={copy}>
          Copy secret
        </button>
        <button type="button" onClick={onDone}>
          Done
        </button>
      </div>
      <Notice message={copied} />
    </section>
  );
}

/** Grace periods the console offers for a rotation (the API takes any within FIELD_LIMITS.keyRotationGraceMs). */
const GRACE_CHOICES: ReadonlyArray<[label: string, ms: number]> = [
  ['none: the old secret stops now', 0],
  ['1 hour', 3_600_000],
  ['1 day', 86_400_000],
  ['7 days', 604_800_000],
];

/** Rotation: pick a grace period, confirm, and the new secret is shown once (`onRotated`). */
function RotatePanel({ k, onRotated, onCancel }: { k: Key; onRotated: (secret: string) => Promise<void>; onCancel: () => void }) {
  const [graceMs, setGraceMs] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const rotate = async (e: Event) => {
    e.preventDefault();
    try {
      const answer = await api.post<{ key: Key; secret: string }>(`/keys/${encodeURIComponent(k.id)}/rotate`, { grace_ms: graceMs });
      await onRotated(answer.secret);
    } catch (err) {
      setError(describeError(err));
    }
  };
  return (
    <form class="form-grid" onSubmit={rotate} aria-label={`Rotate key ${k.name}`}>
      <Field label="Old secret keeps working">
        <select name="grace_ms" value={String(graceMs)} onChange={(e) => setGraceMs(Number(e.currentTarget.value))}>
          {GRACE_CHOICES.map(([label, ms]) => (
            <option key={ms} value={String(ms)}>
              {label}
            </option>
          ))}
        </select>
      </Field>
      <ErrorNote message={error} />
      <FormActions submitLabel="Rotate secret" onCancel={onCancel} />
    </form>
  );
}

function KeyRow({
  keyView,
  daily,
  onChanged,
  onRotated,
}: {
  keyView: Key;
  daily: DailyImages | null;
  onChanged: () => Promise<void>;
  onRotated: (name: string, done: string, secret: string) => void;
}) {
  const [editing, setEditing] = useState(false);
  const [rotating, setRotating] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const k = keyView;
  const path = `/keys/${encodeURIComponent(k.id)}`;
  const save = async (body: KeyBody) => {
    await api.patch(path, body);
    setEditing(false);
    await onChanged();
  };
  const toggleImage = async () => {
    try {
      await api.patch(path, { image_enabled: !k.image_enabled });
      setError(null);
      await onChanged();
    } catch (err) {
      setError(describeError(err));
    }
  };
  const remove = async () => {
    try {
      await api.delete(path);
      await onChanged();
    } catch (err) {
      setError(describeError(err));
    }
  };
  return (
    <article class="item" aria-label={`Key ${k.name}`}>
      <div class="item-head">
        <h3>
          {k.name} <code>{k.prefix}…</code>
        </h3>
        <span class={`badge ${k.status}`}>{k.status}</span>
      </div>
      <dl class="facts">
        <dt>Image access</dt>
        <dd>
          <label class="switch">
            <input
              type="checkbox"
              role="switch"
              checked={k.image_enabled}
              aria-checked={k.image_enabled}
              onChange={toggleImage}
              aria-label={`Image access for ${k.name}`}
            />
            {k.image_enabled ? 'on' : 'off'}
          </label>
        </dd>
        <dt>Max concurrency</dt>
        <dd>{limitText(k.max_concurrency)}</dd>
        <dt>Min interval</dt>
        <dd>{limitText(k.min_start_interval_ms, ' ms')}</dd>
        <BudgetFacts k={k} />
        <dt>Routing</dt>
        <dd>{describeRouting(k.routing)}</dd>
        <dt>Images</dt>
        <dd>{formatCount(k.usage.images)}</dd>
        <dt>Last 30 days</dt>
        <dd>
          <DailySparkline id={k.id} name={k.name} daily={daily} />
        </dd>
        <dt>Requests</dt>
        <dd>
          {formatCount(k.usage.requests)} ({formatCount(k.usage.successes)} ok)
        </dd>
        <dt>Usage tokens</dt>
        <dd>{formatCount(k.usage.total_tokens)}</dd>
        <dt>Estimated cost</dt>
        <dd title="an estimate by the price table (Settings), never a bill">{formatUsdMicros(k.usage.estimated_cost_micros)} (estimate)</dd>
        <dt>Last used</dt>
        <dd>{formatTime(k.usage.last_used_at)}</dd>
        <dt>Expires</dt>
        <dd>{k.expires_at === null ? 'never' : formatTime(k.expires_at)}</dd>
        {k.previous_secret_expires_at === null ? null : (
          <>
            <dt>Old secret until</dt>
            <dd>{formatTime(k.previous_secret_expires_at)}</dd>
          </>
        )}
      </dl>
      <ErrorNote message={error} />
      {editing ? (
        <KeyForm initial={k} submitLabel="Save key" onSubmit={save} onCancel={() => setEditing(false)} />
      ) : rotating ? (
        <RotatePanel
          k={k}
          onCancel={() => setRotating(false)}
          onRotated={async (secret) => {
            setRotating(false);
            onRotated(k.name, 'rotated', secret);
            await onChanged();
          }}
        />
      ) : (
        <div class="actions">
          <button type="button" onClick={() => setEditing(true)}>
            Edit
          </button>
          <button type="button" onClick={() => setRotating(true)}>
            Rotate secret
          </button>
          <ResetUsageButton k={k} onChanged={onChanged} />
          <ConfirmButton label="Delete" question={`Delete key ${k.name}? Clients using it stop working.`} onConfirm={remove} />
        </div>
      )}
    </article>
  );
}

/** The Keys page. */
export function KeysPage() {
  const load = useCallback(async () => (await api.get<{ data: Key[] }>('/keys')).data, []);
  const keys = useLoad(load);
  const daily = useDailyImages('key');
  const [creating, setCreating] = useState(false);
  const [shown, setShown] = useState<{ name: string; done: string; secret: string } | null>(null);
  const create = async (body: KeyBody) => {
    const answer = await api.post<{ key: Key; secret: string }>('/keys', body);
    setCreating(false);
    setShown({ name: answer.key.name, done: 'created', secret: answer.secret });
    await keys.reload();
  };
  return (
    <>
      <h1>Keys</h1>
      {shown ? <SecretOnce name={shown.name} done={shown.done} secret={shown.secret} onDone={() => setShown(null)} /> : null}
      <Section
        title="New key"
        actions={
          creating ? null : (
            <button type="button" class="primary" onClick={() => setCreating(true)}>
              Create key
            </button>
          )
        }
      >
        {creating ? <KeyForm submitLabel="Create" onSubmit={create} onCancel={() => setCreating(false)} /> : null}
      </Section>
      <ErrorNote message={keys.error} />
      <div class="list">
        {keys.data?.length === 0 ? <p>No keys yet.</p> : null}
        {keys.data?.map((k) => (
          <KeyRow key={k.id} keyView={k} daily={daily} onChanged={keys.reload} onRotated={(name, done, secret) => setShown({ name, done, secret })} />
        ))}
      </div>
    </>
  );
}
