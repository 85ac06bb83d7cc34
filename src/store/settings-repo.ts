import type { DbQuerier, DbTx } from './db.js';
import { checkSettingValue, SETTING_NAMES, SETTINGS_DEFAULTS } from './settings-defaults.js';
import type { Settings } from './types.js';

/**
 * The effective settings: stored values over SETTINGS_DEFAULTS. A stored value that no longer
 * passes the checks (edited by hand, or bounds tightened) falls back to its default.
 */
export async function readSettings(db: DbQuerier): Promise<Settings> {
  const rows = await db.query<{ name: string; value: unknown }>('SELECT name, value FROM settings');
  const settings: Settings = { ...SETTINGS_DEFAULTS };
  for (const row of rows) {
    const name = SETTING_NAMES.find((n) => n === row.name);
    if (!name) continue;
    const checked = checkSettingValue(name, row.value);
    if (checked.ok) Object.assign(settings, { [name]: checked.value });
  }
  return settings;
}

/** Stores the given (already validated) settings; others keep their stored or default value. */
export async function saveSettings(tx: DbTx, values: Partial<Settings>, updatedAt: number): Promise<void> {
  for (const name of SETTING_NAMES) {
    const value = values[name];
    if (value === undefined) continue;
    await tx.query(
      `INSERT INTO settings (name, value, updated_at) VALUES ($1, $2::jsonb, $3)
       ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at`,
      [name, JSON.stringify(value), updatedAt],
    );
  }
}
