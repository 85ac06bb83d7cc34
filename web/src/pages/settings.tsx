/** Settings: the Codex client version sent upstream and the request-log rotation. */
import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, describeError } from '../api.js';
import type { Settings } from '../types.js';
import { ErrorNote, Field, Notice, Section, useLoad } from '../ui.js';

const FIELDS = [
  { name: 'codex_client_version', label: 'Codex client version', hint: 'sent to the upstream as the client version', numeric: false },
  { name: 'log_max_file_bytes', label: 'Log file size limit (bytes)', hint: 'rotate the request log beyond this', numeric: true },
  { name: 'log_max_file_age_ms', label: 'Log file age limit (ms)', hint: 'rotate the request log after this', numeric: true },
  { name: 'log_max_files', label: 'Log files kept', hint: 'older rotated files are deleted', numeric: true },
] as const satisfies ReadonlyArray<{ name: keyof Settings; label: string; hint: string; numeric: boolean }>;

/** The Settings page. */
export function SettingsPage() {
  const load = useCallback(() => api.get<Settings>('/settings'), []);
  const settings = useLoad(load);
  const [values, setValues] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  useEffect(() => {
    if (settings.data) setValues(Object.fromEntries(FIELDS.map((f) => [f.name, String(settings.data![f.name])])));
  }, [settings.data]);
  const submit = async (e: Event) => {
    e.preventDefault();
    setSaved(null);
    try {
      const body = Object.fromEntries(FIELDS.map((f) => [f.name, f.numeric ? Number(values[f.name]) : (values[f.name] ?? '').trim()]));
      await api.patch('/settings', body);
      setError(null);
      setSaved('Settings saved. Running gateways pick them up on their next snapshot reload.');
      await settings.reload();
    } catch (err) {
      setError(describeError(err));
    }
  };
  return (
    <>
      <h1>Settings</h1>
      <ErrorNote message={settings.error} />
      <Section title="Gateway settings">
        <form class="form-grid" onSubmit={submit} aria-label="Settings">
          {FIELDS.map((f) => (
            <Field label={f.label} hint={f.hint}>
              <input name={f.name} inputMode={f.numeric ? 'numeric' : 'text'} value={values[f.name] ?? ''} onInput={(e) => setValues({ ...values, [f.name]: e.currentTarget.value })} />
            </Field>
          ))}
          <ErrorNote message={error} />
          <Notice message={saved} />
          <div class="actions"><button type="submit" class="primary">Save settings</button></div>
        </form>
      </Section>
    </>
  );
}
