import { randomBytes } from 'node:crypto';

/** Id prefixes of control records (the schema checks the same shapes). */
export const RECORD_ID_PREFIXES = { key: 'key_', account: 'acct_', group: 'grp_' } as const;

/** Which kind of control record an id names. */
export type RecordKind = keyof typeof RECORD_ID_PREFIXES;

/** A new random record id such as `key_3f9a…` (12 random bytes as hex). */
export function createRecordId(kind: RecordKind): string {
  return RECORD_ID_PREFIXES[kind] + randomBytes(12).toString('hex');
}

/** True for text shaped like a record id (names may not look like one, so a reference is never ambiguous). */
export function isRecordIdShaped(text: string): boolean {
  return /^(key|acct|grp)_[0-9a-f]{8,64}$/.test(text);
}
