import { GatewayError } from '../errors/codes.js';
import type { Db } from '../store/db.js';
import { checkSettingValue, SETTING_NAMES, SETTING_PARAMS } from '../store/settings-defaults.js';
import { readSettings, saveSettings } from '../store/settings-repo.js';
import type { Settings } from '../store/types.js';
import type { ControlApi } from './control-api.js';
import { runControlWrite } from './control-write.js';
import { parseInputObject } from './field-parsers.js';

/** Dependencies of the settings service. */
export interface SettingsServiceDeps {
  db: Db;
  now: () => number;
}

/** Runtime settings: read (stored over defaults) and partial update with validation. */
export function createSettingsService({ db, now }: SettingsServiceDeps): ControlApi['settings'] {
  return {
    get: () => readSettings(db),
    async update(input) {
      const values = parseSettingsUpdate(input);
      return runControlWrite(db, { topic: 'settings', noun: 'setting' }, async (tx) => {
        await saveSettings(tx, values, now());
        return readSettings(tx);
      });
    },
  };
}

/**
 * Checks a partial settings update, each value through its rule in SETTING_RULES (the client
 * version trimmed, the integer settings within their FIELD_LIMITS, CORS origins normalised, the
 * price table checked field by field).
 * @throws GatewayError('invalid_request') with the setting's wire name as `param` (the bad value's
 * path inside it for the price table).
 */
export function parseSettingsUpdate(input: unknown): Partial<Settings> {
  const raw = parseInputObject(input, SETTING_PARAMS);
  const values: Partial<Settings> = {};
  for (const name of SETTING_NAMES) {
    if (raw[name] === undefined) continue;
    const checked = checkSettingValue(name, raw[name]);
    if (!checked.ok) throw new GatewayError('invalid_request', checked.message, checked.param ?? SETTING_PARAMS[name]);
    Object.assign(values, { [name]: checked.value });
  }
  return values;
}
