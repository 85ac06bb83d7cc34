/** Models: the model mapping (requested model name → upstream model) and its strict switch. */
import { useCallback, useState } from 'preact/hooks';
import { api, describeError } from '../api.js';
import type { ModelAlias, Settings } from '../types.js';
import { ConfirmButton, ErrorNote, Field, FormActions, Notice, Section, useLoad, TableWrap } from '../ui.js';

function AliasForm({ onSaved }: { onSaved: () => Promise<void> }) {
  const [alias, setAlias] = useState('');
  const [upstream, setUpstream] = useState('gpt-image-2');
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      await api.put(`/model-aliases/${encodeURIComponent(alias.trim())}`, { upstream_model: upstream.trim() });
      setError(null);
      setAlias('');
      await onSaved();
    } catch (err) {
      setError(describeError(err));
    }
  };
  return (
    <form class="form-grid" onSubmit={submit} aria-label="Set model alias">
      <Field label="Model name" hint="as clients send it; end with * for a prefix pattern">
        <input name="alias" required value={alias} onInput={(e) => setAlias(e.currentTarget.value)} />
      </Field>
      <Field label="Upstream model" hint="the model sent upstream">
        <input name="upstream_model" required value={upstream} onInput={(e) => setUpstream(e.currentTarget.value)} />
      </Field>
      <ErrorNote message={error} />
      <FormActions submitLabel="Save alias" />
    </form>
  );
}

function StrictSwitch({ settings, onChanged }: { settings: Settings; onChanged: () => Promise<void> }) {
  const [error, setError] = useState<string | null>(null);
  const toggle = async (e: Event) => {
    try {
      await api.patch('/settings', { model_aliases_strict: (e.currentTarget as HTMLInputElement).checked });
      setError(null);
    } catch (err) {
      setError(describeError(err));
    }
    await onChanged();
  };
  return (
    <>
      <label class="switch">
        <input
          type="checkbox"
          role="switch"
          name="model_aliases_strict"
          checked={settings.model_aliases_strict}
          aria-checked={settings.model_aliases_strict}
          onChange={toggle}
          aria-label="Strict model names"
        />
        {settings.model_aliases_strict
          ? 'Strict: an unknown model name is refused (400, naming the allowed names)'
          : 'Lenient: an unknown model name gets the default model'}
      </label>
      <ErrorNote message={error} />
    </>
  );
}

function AliasTable({ rows, onChanged }: { rows: ModelAlias[]; onChanged: () => Promise<void> }) {
  const [error, setError] = useState<string | null>(null);
  const remove = async (alias: string) => {
    try {
      await api.delete(`/model-aliases/${encodeURIComponent(alias)}`);
      setError(null);
      await onChanged();
    } catch (err) {
      setError(describeError(err));
    }
  };
  return (
    <>
      <ErrorNote message={error} />
      {rows.length === 0 ? (
        <p>No aliases: only the served models (ALLOWED_MODELS) are known by name.</p>
      ) : (
        <TableWrap label="Model aliases table">
          <table aria-label="Model aliases">
            <thead>
              <tr>
                <th scope="col">Model name</th>
                <th scope="col">Kind</th>
                <th scope="col">Upstream model</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.alias}>
                  <td>
                    <code>{r.alias}</code>
                  </td>
                  <td>{r.pattern ? 'prefix' : 'exact'}</td>
                  <td>
                    <code>{r.upstream_model}</code>
                  </td>
                  <td>
                    <ConfirmButton label="Remove" question={`Remove alias ${r.alias}?`} onConfirm={() => void remove(r.alias)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </>
  );
}

/** The Models page. */
export function ModelsPage() {
  const loadAliases = useCallback(async () => (await api.get<{ data: ModelAlias[] }>('/model-aliases')).data, []);
  const loadSettings = useCallback(() => api.get<Settings>('/settings'), []);
  const aliases = useLoad(loadAliases);
  const settings = useLoad(loadSettings);
  const [notice, setNotice] = useState<string | null>(null);
  const reset = async () => {
    try {
      await api.post('/model-aliases/reset', {});
      setNotice('Aliases reset to the defaults.');
    } catch (err) {
      setNotice(describeError(err));
    }
    await aliases.reload();
  };
  return (
    <>
      <h1>Models</h1>
      <p>
        Which upstream model serves each model name a client asks for. An exact name wins, then a served model (ALLOWED_MODELS, the first is the default), then
        the longest matching prefix pattern. Running gateways pick changes up within a second.
      </p>
      <ErrorNote message={settings.error} />
      <Section title="Unknown model names">{settings.data ? <StrictSwitch settings={settings.data} onChanged={settings.reload} /> : null}</Section>
      <Section title="Set an alias">
        <AliasForm onSaved={aliases.reload} />
      </Section>
      <Section
        title="Aliases"
        actions={<ConfirmButton label="Reset to defaults" question="Replace every alias with the defaults?" onConfirm={() => void reset()} />}
      >
        <ErrorNote message={aliases.error} />
        <Notice message={notice} />
        {aliases.data ? <AliasTable rows={aliases.data} onChanged={aliases.reload} /> : null}
      </Section>
    </>
  );
}
