/** Settings: the Codex client version sent upstream, the request-log rotation, the CORS origins, the budget time zone and the price table. */
import { useCallback, useEffect, useState } from 'preact/hooks';
import { FIELD_LIMITS, formatLimitRange, type FieldLimit } from '../../../src/config/field-limits.js';
import { api, describeError } from '../api.js';
import type { Settings } from '../types.js';
import { ErrorNote, Field, FormActions, Notice, Section, useLoad } from '../ui.js';
import { PriceTableEditor } from './price-table-editor.js';

/** How each kind of setting is shown in the form and turned back into its API value. */
const KINDS = {
  text: { toText: (v: unknown) => String(v), toValue: (t: string): unknown => t.trim() },
  integer: { toText: (v: unknown) => String(v), toValue: (t: string): unknown => Number(t) },
  /** One entry per line (commas and spaces also separate). */
  list: { toText: (v: unknown) => (v as string[]).join('\n'), toValue: (t: string): unknown => t.split(/[\s,]+/).filter((e) => e !== '') },
  /** One of the field's `choices`, shown as a select. */
  choice: { toText: (v: unknown) => String(v), toValue: (t: string): unknown => t },
  /** A switch, shown as a select of false/true. */
  flag: { toText: (v: unknown) => String(v), toValue: (t: string): unknown => t === 'true' },
} as const;

const FIELDS = [
  { name: 'codex_client_version', label: 'Codex client version', hint: 'sent to the upstream as the client version', kind: 'text' },
  {
    name: 'log_max_file_bytes',
    label: 'Log file size limit (bytes)',
    hint: 'rotate the request log beyond this',
    kind: 'integer',
    limit: FIELD_LIMITS.logMaxFileBytes,
  },
  {
    name: 'log_max_file_age_ms',
    label: 'Log file age limit (ms)',
    hint: 'rotate the request log after this',
    kind: 'integer',
    limit: FIELD_LIMITS.logMaxFileAgeMs,
  },
  { name: 'log_max_files', label: 'Log files kept', hint: 'older rotated files are deleted', kind: 'integer', limit: FIELD_LIMITS.logMaxFiles },
  {
    name: 'cors_allowed_origins',
    label: 'CORS allowed origins',
    hint: 'browser apps allowed to call the public API, one origin per line (https://app.example.com), or * for any; empty = CORS off',
    kind: 'list',
  },
  {
    name: 'field_policy',
    label: 'Field policy',
    hint: 'lenient: fields and values the gateway cannot honour are dropped or mapped and named in x-gateway-ignored-params / x-gateway-mapped-params; strict: they are refused with 400',
    kind: 'choice',
    choices: ['lenient', 'strict'],
  },
  {
    name: 'responses_host_model',
    label: 'Responses host model',
    hint: 'the chat model that calls the image_generation tool when a stream asks for partial images',
    kind: 'text',
  },
  {
    name: 'responses_fallback',
    label: 'Responses fallback',
    hint: 'true: when the images endpoint is unavailable for an account (404/410/unsupported), serve plain requests through the Responses API',
    kind: 'flag',
    choices: ['false', 'true'],
  },
  {
    name: 'budget_time_zone',
    label: 'Budget time zone',
    hint: "keys' day, week and month budgets reset at midnight here: an IANA name such as UTC, Europe/Berlin or America/New_York",
    kind: 'text',
  },
  {
    name: 'n_mode',
    label: 'Serving n > 1',
    hint: 'fanout: n one-image upstream calls in parallel (the Codex backend makes one image per call); passthrough: n is forwarded as sent',
    kind: 'choice',
    choices: ['fanout', 'passthrough'],
  },
] as const satisfies ReadonlyArray<{
  name: keyof Settings;
  label: string;
  hint: string;
  kind: keyof typeof KINDS;
  choices?: readonly string[];
  limit?: FieldLimit;
}>;

/** A field's hint, with the range of an integer setting (from the server's FIELD_LIMITS). */
const describeHint = (f: (typeof FIELDS)[number]): string => ('limit' in f ? `${f.hint} (${formatLimitRange(f.limit)})` : f.hint);

/** The Settings page. */
export function SettingsPage() {
  const load = useCallback(() => api.get<Settings>('/settings'), []);
  const settings = useLoad(load);
  const [values, setValues] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  useEffect(() => {
    if (settings.data) setValues(Object.fromEntries(FIELDS.map((f) => [f.name, KINDS[f.kind].toText(settings.data![f.name])])));
  }, [settings.data]);
  const submit = async (e: Event) => {
    e.preventDefault();
    setSaved(null);
    try {
      const body = Object.fromEntries(FIELDS.map((f) => [f.name, KINDS[f.kind].toValue(values[f.name] ?? '')]));
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
            <Field label={f.label} hint={describeHint(f)}>
              {'choices' in f ? (
                <select name={f.name} value={values[f.name] ?? ''} onChange={(e) => setValues({ ...values, [f.name]: e.currentTarget.value })}>
                  {f.choices.map((choice) => (
                    <option value={choice}>{choice}</option>
                  ))}
                </select>
              ) : f.kind === 'list' ? (
                <textarea
                  name={f.name}
                  rows={3}
                  spellcheck={false}
                  autocomplete="off"
                  value={values[f.name] ?? ''}
                  onInput={(e) => setValues({ ...values, [f.name]: e.currentTarget.value })}
                />
              ) : (
                <input
                  name={f.name}
                  inputMode={f.kind === 'integer' ? 'numeric' : 'text'}
                  value={values[f.name] ?? ''}
                  onInput={(e) => setValues({ ...values, [f.name]: e.currentTarget.value })}
                />
              )}
            </Field>
          ))}
          <ErrorNote message={error} />
          <Notice message={saved} />
          <FormActions submitLabel="Save settings" />
        </form>
      </Section>
      <PriceTableEditor settings={settings.data} onSaved={settings.reload} />
    </>
  );
}
