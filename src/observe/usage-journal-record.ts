/**
 * One line of the usage journal (usage-journal.ts): `{"seq":…, keyId, counters…, lastUsedAt, rollup
 * facts…}` as JSON, written by one release and read back by the same or a later one.
 */
import type { KeyUsageDelta, UsageFailureClass, UsageRollupFacts } from '../store/types.js';

/** The counters every record carries, besides `seq`, `keyId` and `lastUsedAt`. */
const RECORD_COUNTERS = ['requests', 'successes', 'images', 'inputTokens', 'outputTokens', 'totalTokens', 'usageMissing'] as const satisfies ReadonlyArray<
  keyof KeyUsageDelta
>;

/**
 * Counters added in later releases: a line an earlier release wrote has none of them, and replays
 * with 0 (usage from before the price table had no estimated cost).
 */
const LATER_RECORD_COUNTERS = ['estimatedCostMicros'] as const satisfies ReadonlyArray<keyof KeyUsageDelta>;

/** One journal record: its sequence number (1, 2, … within a writer), the increment and its rollup facts. */
export interface UsageJournalRecord {
  seq: number;
  delta: KeyUsageDelta;
  /** Null for a line an earlier release wrote (no rollup fields) or whose rollup fields are damaged. */
  facts: UsageRollupFacts | null;
}

const FAILURE_CLASSES: ReadonlySet<string> = new Set<UsageFailureClass>(['rate_limited', 'client', 'upstream', 'aborted']);

/** The JSON object of one record line: one key's increment and its rollup facts. */
export function buildRecordLine(seq: number, delta: KeyUsageDelta, facts: UsageRollupFacts): Record<string, unknown> {
  const line: Record<string, unknown> = { seq, keyId: delta.keyId };
  for (const counter of RECORD_COUNTERS) line[counter] = delta[counter];
  for (const counter of LATER_RECORD_COUNTERS) line[counter] = delta[counter];
  line.lastUsedAt = delta.lastUsedAt;
  line.hourStart = facts.hourStart;
  line.accountId = facts.accountId;
  line.model = facts.model;
  line.endpoint = facts.endpoint;
  line.failureClass = facts.failureClass;
  line.upstreamBytes = facts.upstreamBytes;
  line.latencyMs = facts.latencyMs;
  line.unpriced = facts.unpriced;
  line.imageInputTokens = facts.imageInputTokens;
  return line;
}

/**
 * The rollup facts of a record line, or null when it has none (an earlier release) or they are
 * damaged. `unpriced` and `imageInputTokens` came later: a line without them was written before the
 * price table (it counts as priced) and before input tokens were split (none were images).
 */
function parseRecordFacts(fields: Record<string, unknown>, isCount: (n: unknown) => n is number): UsageRollupFacts | null {
  const { hourStart, accountId, model, endpoint, failureClass, upstreamBytes, latencyMs, unpriced = false, imageInputTokens = 0 } = fields;
  if (!isCount(hourStart) || !isCount(upstreamBytes) || !isCount(latencyMs) || !isCount(imageInputTokens)) return null;
  if (typeof model !== 'string' || typeof endpoint !== 'string' || endpoint === '') return null;
  if (accountId !== null && (typeof accountId !== 'string' || accountId === '')) return null;
  if (failureClass !== null && (typeof failureClass !== 'string' || !FAILURE_CLASSES.has(failureClass))) return null;
  if (typeof unpriced !== 'boolean') return null;
  return {
    hourStart,
    accountId,
    model,
    endpoint,
    failureClass: failureClass as UsageFailureClass | null,
    upstreamBytes,
    latencyMs,
    unpriced,
    imageInputTokens,
  };
}

/** A record line, or null when it is not one (wrong JSON, missing or negative numbers). */
export function parseRecordLine(line: string): UsageJournalRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const fields = value as Record<string, unknown>;
  const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
  if (!isCount(fields.seq) || fields.seq === 0 || typeof fields.keyId !== 'string' || fields.keyId === '' || !isCount(fields.lastUsedAt)) return null;
  const delta = { keyId: fields.keyId, lastUsedAt: fields.lastUsedAt } as KeyUsageDelta;
  for (const counter of RECORD_COUNTERS) {
    const n = fields[counter];
    if (!isCount(n)) return null;
    delta[counter] = n;
  }
  for (const counter of LATER_RECORD_COUNTERS) {
    const n = fields[counter] ?? 0;
    if (!isCount(n)) return null;
    delta[counter] = n;
  }
  return { seq: fields.seq, delta, facts: parseRecordFacts(fields, isCount) };
}
