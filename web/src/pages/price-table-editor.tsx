/**
 * The price table setting as JSON, checked as it is typed by the server's own check (bundled from
 * src/pricing/price-table.ts, which imports nothing), so a bad path is named before saving; the
 * server checks again (model names by its full rule).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { FIELD_LIMITS } from '../../../src/config/field-limits.js';
import { DEFAULT_PRICE_TABLE, parsePriceTable } from '../../../src/pricing/price-table.js';
import { api, describeError } from '../api.js';
import type { Settings } from '../types.js';
import { ErrorNote, Field, FormActions, Notice, Section } from '../ui.js';

const PARAM = 'price_table';
/** What the console checks of a model name: non-empty, no spaces (the server's rule is stricter). */
const RULES = { maxModels: FIELD_LIMITS.priceTable.max, isModelName: (name: string) => /^\S+$/.test(name) };

const showTable = (table: unknown): string => JSON.stringify(table, null, 2);

/** The editor's text as a table, or the first problem (JSON syntax, or a path and what is wrong there). */
function checkText(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, message: `${PARAM} is not valid JSON: ${describeError(err)}` };
  }
  const checked = parsePriceTable(value, PARAM, RULES);
  return checked.ok ? checked : { ok: false, message: checked.message };
}

/** The Settings page's price table section: edit, restore the defaults, save. */
export function PriceTableEditor({ settings, onSaved }: { settings: Settings | null; onSaved: () => Promise<void> }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  // The stored table fills the editor once: a later reload of the settings (after any save on the
  // page) must not overwrite what is being edited.
  const filled = useRef(false);
  useEffect(() => {
    if (!settings || filled.current) return;
    filled.current = true;
    setText(showTable(settings.price_table));
  }, [settings]);
  const edit = (next: string) => {
    setText(next);
    setSaved(null);
    const checked = checkText(next);
    setError(checked.ok ? null : checked.message);
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    const checked = checkText(text);
    if (!checked.ok) return setError(checked.message);
    try {
      await api.patch('/settings', { [PARAM]: checked.value });
      setError(null);
      setSaved('Price table saved. Requests that end after the next snapshot reload are priced by it; recorded costs do not change.');
      await onSaved();
    } catch (err) {
      setError(describeError(err));
    }
  };
  return (
    <Section title="Price table (estimated costs)">
      <form class="form-grid" onSubmit={submit} aria-label="Price table">
        <Field
          label="Prices per model"
          hint={`USD per image (image: low/medium/high × 1024x1024, 1024x1536, 1536x1024) and/or per 1M tokens (tokens: text, image, output); up to ${RULES.maxModels} models. Costs are estimates, never a bill.`}
        >
          <textarea name={PARAM} rows={16} spellcheck={false} autocomplete="off" value={text} onInput={(e) => edit(e.currentTarget.value)} />
        </Field>
        <ErrorNote message={error} />
        <Notice message={saved} />
        <div class="actions">
          <button type="button" onClick={() => edit(showTable(DEFAULT_PRICE_TABLE))}>
            Restore the default prices
          </button>
        </div>
        <FormActions submitLabel="Save price table" busy={error !== null} />
      </form>
    </Section>
  );
}
