import type { Redis } from 'ioredis';
import { ADMIT_LUA } from './admit-script.js';
import { BUDGET_RESERVE_LUA, BUDGET_SETTLE_LUA } from './budget-script.js';
import { CLEAR_LUA, LOAD_LUA, RELEASE_LUA, RENEW_LUA, REPORT_LUA } from './coord-scripts.js';
import { JOIN_LUA, LEAVE_LUA, TAKE_TURN_LUA } from './queue-script.js';

/** Every script, by the command name it is defined under. */
const SCRIPTS = {
  cigAdmit: ADMIT_LUA,
  cigRenew: RENEW_LUA,
  cigRelease: RELEASE_LUA,
  cigLoad: LOAD_LUA,
  cigReport: REPORT_LUA,
  cigClear: CLEAR_LUA,
  cigJoin: JOIN_LUA,
  cigTakeTurn: TAKE_TURN_LUA,
  cigLeave: LEAVE_LUA,
  cigBudgetReserve: BUDGET_RESERVE_LUA,
  cigBudgetSettle: BUDGET_SETTLE_LUA,
} as const;

/** One script call: its keys and its arguments; the reply is parsed by the caller. */
export type ScriptCall = (keys: readonly string[], args: readonly (string | number)[]) => Promise<unknown>;

export type CoordScripts = Record<keyof typeof SCRIPTS, ScriptCall>;

/**
 * Defines the scripts on a client (ioredis `defineCommand`). Each call is one EVALSHA; ioredis sends
 * the full script (EVAL) on a connection's first use and after a NOSCRIPT reply, so a Redis restart
 * that lost its script cache costs one EVAL, never an error.
 */
export function defineCoordScripts(client: Redis): CoordScripts {
  const commands = client as unknown as Record<string, (...args: (string | number)[]) => Promise<unknown>>;
  const call =
    (name: keyof typeof SCRIPTS): ScriptCall =>
    (keys, args) =>
      (commands[name] as (...args: (string | number)[]) => Promise<unknown>).call(client, keys.length, ...keys, ...args);
  const scripts = {} as CoordScripts;
  for (const [name, lua] of Object.entries(SCRIPTS) as [keyof typeof SCRIPTS, string][]) {
    client.defineCommand(name, { lua });
    scripts[name] = call(name);
  }
  return scripts;
}
