import { ERRORS } from '../../src/errors/codes.js';

/**
 * What clients saw, summed the way the gateway's usage records should sum it: the expected side of
 * the usage accuracy tests. It never asks the gateway how it classifies a request; it derives the
 * class from what the client got (the status, the error code), so a gateway that files a request
 * under the wrong class or account disagrees with it.
 */

/** One request as its client saw it. */
export interface ClientObservation {
  keyId: string;
  /** The HTTP status the client got, or 'aborted' when the client itself gave up before an answer. */
  status: number | 'aborted';
  /** The OpenAI error `code` of a failure body (null for a success or a body without one). */
  errorCode: string | null;
  /** Images in a success body's `data`. */
  images: number;
  /** A success body's `usage` (null when the body had none). */
  usage: { inputTokens: number; outputTokens: number; totalTokens: number } | null;
}

/**
 * The measures a usage record can be checked against, named as the rollup rows and the per-key
 * counters name them. Reports may carry more measures (bytes, latency, cost): a check compares these
 * names only, so a new measure breaks no test.
 */
export const TALLIED_MEASURES = [
  'requests',
  'successes',
  'failuresRateLimited',
  'failuresClient',
  'failuresUpstream',
  'failuresAborted',
  'images',
  'inputTokens',
  'outputTokens',
  'totalTokens',
  'usageMissing',
] as const;
export type TalliedMeasure = (typeof TALLIED_MEASURES)[number];
export type UsageTally = Record<TalliedMeasure, number>;

/** The measures the per-key counters keep (they have no failure classes). */
export const KEY_COUNTER_MEASURES = [
  'requests',
  'successes',
  'images',
  'inputTokens',
  'outputTokens',
  'totalTokens',
  'usageMissing',
] as const satisfies readonly TalliedMeasure[];

/** Expected totals per key, per account (null: no account was asked) and overall. */
export interface ExpectedUsage {
  byKey: Map<string, UsageTally>;
  byAccount: Map<string | null, UsageTally>;
  total: UsageTally;
}

/**
 * Whether an upstream answer ended the request, so the request is its account's: a success, or a
 * failure passed through from the upstream (with the upstream's code or none). Not one the gateway
 * answered itself (its code is one of the gateway's own: a key's limit, accounts exhausted or
 * unusable), nor one whose client went away before any answer.
 */
const isEndedByAccount = (o: ClientObservation): boolean => o.status !== 'aborted' && !(o.errorCode !== null && Object.hasOwn(ERRORS, o.errorCode));

/** The failure measure of a request the client saw fail, from its status alone; any other status is a test bug. */
function selectFailureMeasure(status: number | 'aborted'): TalliedMeasure {
  if (status === 'aborted') return 'failuresAborted';
  if (status === 429) return 'failuresRateLimited';
  if (status >= 400 && status < 500) return 'failuresClient';
  if (status >= 500) return 'failuresUpstream';
  throw new Error(`a failure with status ${status} has no failure class`);
}

/** An all-zero tally. */
export function buildEmptyTally(): UsageTally {
  return Object.fromEntries(TALLIED_MEASURES.map((m) => [m, 0])) as UsageTally;
}

/** The tallied measures of any record that has them by name (a rollup row, a report row, a key's counters). */
export function pickTally(record: object, measures: readonly TalliedMeasure[] = TALLIED_MEASURES): Partial<UsageTally> {
  const values = record as Record<string, unknown>;
  return Object.fromEntries(measures.map((m) => [m, values[m]]));
}

/** One request's contribution. */
function tallyOne(o: ClientObservation): UsageTally {
  const t = buildEmptyTally();
  t.requests = 1;
  if (o.status === 200) {
    t.successes = 1;
    t.images = o.images;
    if (o.usage === null) t.usageMissing = 1;
    else {
      t.inputTokens = o.usage.inputTokens;
      t.outputTokens = o.usage.outputTokens;
      t.totalTokens = o.usage.totalTokens;
    }
  } else {
    t[selectFailureMeasure(o.status)] = 1;
  }
  return t;
}

function addInto<K>(into: Map<K, UsageTally>, key: K, t: UsageTally): void {
  const sum = into.get(key) ?? buildEmptyTally();
  for (const m of TALLIED_MEASURES) sum[m] += t[m];
  into.set(key, sum);
}

/**
 * Sums what the clients saw per key, per account and overall. `accountOfKey` names the one account
 * each key routes to: a request an upstream answer ended is that account's, any other belongs to no
 * account (isEndedByAccount).
 */
export function tallyExpectedUsage(observations: readonly ClientObservation[], accountOfKey: ReadonlyMap<string, string>): ExpectedUsage {
  const byKey = new Map<string, UsageTally>();
  const byAccount = new Map<string | null, UsageTally>();
  const total = buildEmptyTally();
  for (const o of observations) {
    const t = tallyOne(o);
    const account = isEndedByAccount(o) ? accountOfKey.get(o.keyId) : null;
    if (account === undefined) throw new Error(`key ${o.keyId} has no account in the scenario`);
    addInto(byKey, o.keyId, t);
    addInto(byAccount, account, t);
    for (const m of TALLIED_MEASURES) total[m] += t[m];
  }
  return { byKey, byAccount, total };
}
