/** The Usage page's controls: the time range (a preset or two UTC dates) and the key/account toggle. */
import { useState } from 'preact/hooks';
import { describeError } from '../api.js';
import { ErrorNote, Field } from '../ui.js';
import { RANGE_PRESETS, buildPresetRange, formatDateInput, parseCustomRange, type RangePreset, type UsageGroup, type UsageRange } from '../usage-data.js';

/** The range an operator picked: a preset (recomputed at each load, so it follows the clock) or fixed dates. */
export type RangeChoice = { kind: 'preset'; preset: RangePreset } | { kind: 'custom'; range: UsageRange };

/** The range of a choice now. */
export const resolveRange = (choice: RangeChoice, nowMs: number): UsageRange =>
  choice.kind === 'preset' ? buildPresetRange(choice.preset, nowMs) : choice.range;

const CUSTOM = 'custom';

/** Two date fields and Apply; the dates start as the last 7 days. */
function CustomRangeForm({ onApply }: { onApply: (range: UsageRange) => void }) {
  const today = formatDateInput(Date.now());
  const [since, setSince] = useState(formatDateInput(Date.now() - 6 * 86_400_000));
  const [until, setUntil] = useState(today);
  const [error, setError] = useState<string | null>(null);
  const apply = (e: Event) => {
    e.preventDefault();
    try {
      onApply(parseCustomRange(since, until));
      setError(null);
    } catch (err) {
      setError(describeError(err));
    }
  };
  return (
    <form class="toolbar" onSubmit={apply} aria-label="Custom range">
      <Field label="Since" hint="UTC day">
        <input type="date" name="since" required value={since} max={today} onInput={(e) => setSince(e.currentTarget.value)} />
      </Field>
      <Field label="Until" hint="UTC day, included">
        <input type="date" name="until" required value={until} onInput={(e) => setUntil(e.currentTarget.value)} />
      </Field>
      <button type="submit" class="primary">
        Apply
      </button>
      <ErrorNote message={error} />
    </form>
  );
}

/** The range select; choosing "Custom" shows the date form, whose Apply sets the range. */
export function RangePicker({ choice, onChange }: { choice: RangeChoice; onChange: (choice: RangeChoice) => void }) {
  const [custom, setCustom] = useState(choice.kind === 'custom');
  const selected = custom ? CUSTOM : choice.kind === 'preset' ? choice.preset : CUSTOM;
  const pick = (value: string) => {
    if (value === CUSTOM) return setCustom(true);
    setCustom(false);
    onChange({ kind: 'preset', preset: value as RangePreset });
  };
  return (
    <>
      <Field label="Range">
        <select name="range" value={selected} onChange={(e) => pick(e.currentTarget.value)}>
          {Object.entries(RANGE_PRESETS).map(([value, p]) => (
            <option value={value}>{p.label}</option>
          ))}
          <option value={CUSTOM}>Custom…</option>
        </select>
      </Field>
      {custom ? <CustomRangeForm onApply={(range) => onChange({ kind: 'custom', range })} /> : null}
    </>
  );
}

const GROUP_LABELS = { key: 'By key', account: 'By account' } as const satisfies Record<UsageGroup, string>;

/** Which the stacked charts split by: keys or accounts (radio buttons drawn as one segmented control). */
export function GroupToggle({ group, onChange }: { group: UsageGroup; onChange: (group: UsageGroup) => void }) {
  return (
    <fieldset class="toggle">
      <legend>Split charts</legend>
      {(Object.keys(GROUP_LABELS) as UsageGroup[]).map((g) => (
        <label>
          <input type="radio" name="group" value={g} checked={group === g} onChange={() => onChange(g)} />
          {GROUP_LABELS[g]}
        </label>
      ))}
    </fieldset>
  );
}
