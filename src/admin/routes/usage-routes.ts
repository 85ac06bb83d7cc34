import type { FastifyInstance } from 'fastify';
import type { ControlApi } from '../../control/control-api.js';
import { buildWireView } from '../../control/admin-wire.js';
import { GatewayError } from '../../errors/codes.js';
import { USAGE_ROLLUP_GROUPINGS, type UsageRollupGrouping, type UsageRollupQuery } from '../../store/usage-rollup-repo.js';

/** The range a rollup read covers when the query names none: the last 24 hours. */
const DEFAULT_ROLLUP_RANGE_MS = 24 * 3_600_000;

/**
 * Usage: GET `/usage` → `{totals, keys: [...]}`, per-key image usage and the sum over all keys;
 * GET `/usage/rollups?since=&until=&by=key|account|model|day|hour` → `{since, until, by, data: [...]}`,
 * the persistent usage history summed per group (times in ms since epoch or ISO 8601; default the
 * last 24 hours by key).
 */
export function registerUsageRoutes(app: FastifyInstance, control: ControlApi, now: () => number = Date.now): void {
  app.get('/usage', async () => buildWireView(await control.usage.summary()));
  app.get<{ Querystring: Record<string, string | undefined> }>('/usage/rollups', async (req) =>
    buildWireView(await control.usage.rollups(parseRollupQuery(req.query, now()))),
  );
}

/** The rollup read a query string asks for. @throws GatewayError('invalid_request') naming the bad parameter */
export function parseRollupQuery(q: Record<string, string | undefined>, nowMs: number): UsageRollupQuery {
  const untilMs = parseInstant(q.until, 'until') ?? nowMs;
  const sinceMs = parseInstant(q.since, 'since') ?? untilMs - DEFAULT_ROLLUP_RANGE_MS;
  if (sinceMs >= untilMs) throw new GatewayError('invalid_request', 'since must be before until', 'since');
  const by = q.by === undefined || q.by === '' ? 'key' : q.by;
  if (!(USAGE_ROLLUP_GROUPINGS as readonly string[]).includes(by))
    throw new GatewayError('invalid_request', `by must be one of ${USAGE_ROLLUP_GROUPINGS.join(', ')}`, 'by');
  return { sinceMs, untilMs, by: by as UsageRollupGrouping };
}

/** ms since epoch (digits) or an ISO 8601 date; undefined when absent. */
function parseInstant(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  // Date.parse alone is too lenient ('-5' is a year): an ISO time starts with its four-digit year.
  const ms = /^\d+$/.test(value) ? Number(value) : /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isSafeInteger(ms) || ms < 0) throw new GatewayError('invalid_request', `${name} must be ms since epoch or an ISO 8601 time`, name);
  return ms;
}
