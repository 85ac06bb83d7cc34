import { describe, expect, it } from 'vitest';
import { classifyHealthReport, type HealthVerdict } from '../../../src/coord/health-verdict.js';
import { AccountHealth, type AttemptReport } from '../../../src/dispatch/account-health.js';
import { FAILURE_CLASSES, type FailureClass } from '../../../src/errors/failure-classes.js';

const POLICY = { rateLimitCapMs: 60_000, backoffBaseMs: 1_000, backoffMaxMs: 10_000 };
const TOKEN = 'token-a';

/**
 * What the in-process AccountHealth does with the same report, read back as a verdict: the account
 * starts with one failure on record, so a report that says nothing leaves it exactly as it was, a
 * success clears it, and a failure counts a second one.
 */
function inProcessVerdict(report: Omit<AttemptReport, 'accountId'>): HealthVerdict['kind'] {
  const health = new AccountHealth(POLICY, () => 1_000_000);
  health.report({ accountId: 'a', status: 500, errorClass: 'upstream_server', retryAfterSeconds: null }, TOKEN);
  const before = JSON.stringify(health.list());
  health.report({ accountId: 'a', ...report }, TOKEN);
  const after = health.peekCooldown('a', TOKEN);
  if (JSON.stringify(health.list()) === before) return 'ignore';
  if (after === null) return 'success';
  if (after.cause === 'upstream_failure') {
    expect(after.failures).toBe(2);
    return 'failure';
  }
  return after.cause;
}

const CLASSES: (FailureClass | null)[] = [null, ...FAILURE_CLASSES];
const CASES = CLASSES.flatMap((errorClass) =>
  [null, 200, 400, 401, 403, 429, 500].flatMap((status) => [null, 5].map((retryAfterSeconds) => ({ errorClass, status, retryAfterSeconds }))),
);

describe('classifyHealthReport', () => {
  it.each(CASES)('agrees with the in-process account health: %o', (report) => {
    const verdict = classifyHealthReport(report);
    expect(verdict.kind).toBe(inProcessVerdict(report as Omit<AttemptReport, 'accountId'>));
  });

  it('turns the reset hint into whole ms, rounded up', () => {
    expect(classifyHealthReport({ status: 429, errorClass: 'rate_limited', retryAfterSeconds: 1.0004 })).toEqual({ kind: 'rate_limited', askedMs: 1001 });
  });
});
