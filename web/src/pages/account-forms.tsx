/** Account import and edit forms (the API validates; the forms pre-check the concurrency range). */
import { useState } from 'preact/hooks';
import { FIELD_LIMITS } from '../../../src/config/field-limits.js';
import { api, describeError } from '../api.js';
import type { Account } from '../types.js';
import { describeLimitHint, ErrorNote, Field, FormActions, Notice, parseLimitedInt } from '../ui.js';

const CONCURRENCY = FIELD_LIMITS.accountImageConcurrency;
const parseConcurrency = (raw: string): number => parseLimitedInt(raw, CONCURRENCY);

/** What the import answers: the account, and whether it was new or an existing one updated. */
type ImportResult = Account & { outcome: 'created' | 'updated'; changed: string[] };

const describeImport = (r: ImportResult): string =>
  r.outcome === 'created' ? `Imported account ${r.name}` : `Updated account ${r.name} (changed: ${r.changed.join(', ') || 'nothing'})`;

/**
 * Import a Codex auth.json by pasting it or choosing the file. Only the settings the operator fills
 * in are sent, so re-importing an account keeps its image settings.
 */
export function ImportAccountForm({ onDone }: { onDone: () => Promise<void> }) {
  const [auth, setAuth] = useState('');
  const [name, setName] = useState('');
  const [concurrency, setConcurrency] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const readFile = async (e: Event) => {
    const file = (e.currentTarget as HTMLInputElement).files?.[0];
    if (file) setAuth(await file.text());
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      const body: Record<string, unknown> = { auth };
      if (name.trim()) body.name = name.trim();
      if (concurrency.trim()) body.image_concurrency = parseConcurrency(concurrency.trim());
      const result = await api.post<ImportResult>('/accounts/import', body);
      setAuth('');
      setName('');
      setConcurrency('');
      setError(null);
      setNotice(describeImport(result));
      await onDone();
    } catch (err) {
      setNotice(null);
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="form-grid" onSubmit={submit} aria-label="Import account">
      <Field label="auth.json" hint="paste it, or choose the file below">
        <textarea name="auth" rows={5} required spellcheck={false} autocomplete="off" value={auth} onInput={(e) => setAuth(e.currentTarget.value)} />
      </Field>
      <Field label="auth.json file">
        <input type="file" name="auth_file" accept=".json,application/json" onChange={readFile} />
      </Field>
      <Field label="Name" hint="optional: defaults to the account's email or id">
        <input name="name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </Field>
      <Field
        label="Image concurrency"
        hint={`optional, ${describeLimitHint(CONCURRENCY)}: blank keeps an existing account's, or ${CONCURRENCY.default} for a new one`}
      >
        <input name="image_concurrency" inputMode="numeric" value={concurrency} onInput={(e) => setConcurrency(e.currentTarget.value)} />
      </Field>
      <ErrorNote message={error} />
      <Notice message={notice} />
      <FormActions submitLabel="Import account" busy={busy} />
    </form>
  );
}

/** Edit an account's switch, concurrency, status and proxy. */
export function EditAccountForm({ account, onDone, onCancel }: { account: Account; onDone: () => Promise<void>; onCancel: () => void }) {
  const [imageEnabled, setImageEnabled] = useState(account.image_enabled);
  const [concurrency, setConcurrency] = useState(String(account.image_concurrency));
  const [status, setStatus] = useState(account.status);
  const [proxy, setProxy] = useState(account.proxy ?? '');
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      const body: Record<string, unknown> = { image_enabled: imageEnabled, image_concurrency: parseConcurrency(concurrency), status };
      // The API shows the proxy with its password masked: send it only when the operator changed it.
      if (proxy !== (account.proxy ?? '')) body.proxy_url = proxy.trim() === '' ? null : proxy.trim();
      await api.patch(`/accounts/${encodeURIComponent(account.id)}`, body);
      setError(null);
      await onDone();
    } catch (err) {
      setError(describeError(err));
    }
  };
  return (
    <form class="form-grid" onSubmit={submit} aria-label={`Edit account ${account.name}`}>
      <label class="check">
        <input type="checkbox" name="image_enabled" checked={imageEnabled} onChange={(e) => setImageEnabled(e.currentTarget.checked)} /> Image access
      </label>
      <Field label="Image concurrency" hint={describeLimitHint(CONCURRENCY)}>
        <input name="image_concurrency" inputMode="numeric" value={concurrency} onInput={(e) => setConcurrency(e.currentTarget.value)} />
      </Field>
      <Field label="Status">
        <select name="status" value={status} onChange={(e) => setStatus(e.currentTarget.value as Account['status'])}>
          <option value="active">active</option>
          <option value="disabled">disabled</option>
        </select>
      </Field>
      <Field label="Proxy" hint="http(s)/socks5 URL, empty = direct">
        <input name="proxy_url" value={proxy} onInput={(e) => setProxy(e.currentTarget.value)} />
      </Field>
      <ErrorNote message={error} />
      <FormActions submitLabel="Save account" onCancel={onCancel} />
    </form>
  );
}
