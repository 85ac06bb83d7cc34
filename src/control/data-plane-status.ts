import type { AccountCooldown, CooldownCause } from '../dispatch/account-health.js';
import type { ImageLogEvent } from '../observe/image-log-event.js';

/** One account as this data plane sees it right now. */
export interface AccountRuntimeStatus {
  accountId: string;
  /** Image requests on the account in this process. */
  inFlight: number;
  cooldown: AccountCooldown | null;
}

/** What a data plane reports about its accounts (the admin API merges one per gateway). */
export interface DataPlaneStatus {
  generatedAt: number;
  accounts: AccountRuntimeStatus[];
}

/** Reads and changes this process's account state (in `start`, the admin API calls it directly). */
export interface DataPlaneStatusSource {
  /** Async: with REDIS_URL the cooldowns are every instance's, read from Redis. */
  read(): Promise<DataPlaneStatus>;
  /** Ends the account's cooldown (for every instance, with REDIS_URL); false when it had none. */
  clearCooldown(accountId: string): Promise<boolean>;
  /** Recent request-log lines of this process, newest first; absent = none kept. */
  activity?(): ImageLogEvent[];
}

/** The status JSON on the wire (snake_case, like the admin API). */
export interface DataPlaneStatusWire {
  generated_at: number;
  accounts: Array<{
    account_id: string;
    in_flight: number;
    cooldown: { cause: CooldownCause; until_ms: number; failures: number; capped: boolean } | null;
  }>;
}

/** Status → wire JSON. */
export function buildStatusWire(status: DataPlaneStatus): DataPlaneStatusWire {
  return {
    generated_at: status.generatedAt,
    accounts: status.accounts.map((a) => ({
      account_id: a.accountId,
      in_flight: a.inFlight,
      cooldown: a.cooldown && { cause: a.cooldown.cause, until_ms: a.cooldown.untilMs, failures: a.cooldown.failures, capped: a.cooldown.capped },
    })),
  };
}

/** Wire JSON → status (the control plane reading a gateway it was configured with). */
export function parseStatusWire(wire: DataPlaneStatusWire): DataPlaneStatus {
  return {
    generatedAt: wire.generated_at,
    accounts: wire.accounts.map((a) => ({
      accountId: a.account_id,
      inFlight: a.in_flight,
      cooldown: a.cooldown && {
        accountId: a.account_id,
        cause: a.cooldown.cause,
        untilMs: a.cooldown.until_ms,
        failures: a.cooldown.failures,
        capped: a.cooldown.capped,
      },
    })),
  };
}
