import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ControlApi, UsageReportQuery } from '../../control/control-api.js';
import { buildWireView } from '../../control/admin-wire.js';
import { formatUsageReportCsv } from '../../control/usage-report.js';
import { GatewayError } from '../../errors/codes.js';
import { USAGE_ROLLUP_GROUPINGS, type UsageRollupGrouping } from '../../store/usage-rollup-repo.js';

/** The range a report covers when the query names none: the last 24 hours. */
const DEFAULT_REPORT_RANGE_MS = 24 * 3_600_000;

/** Groupings that are time buckets; a report groups by at most one of them. */
const TIME_GROUPINGS: readonly UsageRollupGrouping[] = ['day', 'hour'];

type UsageQueryString = Record<string, string | undefined>;

/**
 * Usage:
 * - GET `/usage?since=&until=&by=&key=&account=&format=json|csv` → the usage report of a range from
 *   the persistent rollups (`{since, until, by, key, account, totals, rows}`), or the same rows as CSV
 *   with `Accept: text/csv` or `format=csv`. Times are ms since epoch or ISO 8601 (default: the last
 *   24 hours); `by` is one grouping or two joined by a comma (default `key`).
 * - GET `/usage/keys` → `{totals, keys}`: every key's lifetime counters and their sum.
 */
export function registerUsageRoutes(app: FastifyInstance, control: ControlApi, now: () => number = Date.now): void {
  app.get('/usage/keys', async () => buildWireView(await control.usage.summary()));
  app.get<{ Querystring: UsageQueryString }>('/usage', async (req, reply) => {
    const query = parseUsageReportQuery(req.query, now());
    const csv = wantsCsv(req);
    const report = await control.usage.report(query);
    if (!csv) return buildWireView(report);
    const name = `usage-${new Date(query.sinceMs).toISOString().slice(0, 10)}-${new Date(query.untilMs).toISOString().slice(0, 10)}.csv`;
    return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${name}"`).send(formatUsageReportCsv(report));
  });
}

/** CSV when asked by `format=csv`, else when the Accept header prefers text/csv over JSON. @throws GatewayError on an unknown format */
function wantsCsv(req: FastifyRequest<{ Querystring: UsageQueryString }>): boolean {
  const format = req.query.format;
  if (format === 'csv') return true;
  if (format === 'json') return false;
  if (format !== undefined && format !== '') throw new GatewayError('invalid_request', 'format must be json or csv', 'format');
  const accept = req.headers.accept ?? '';
  return accept.includes('text/csv') && !accept.includes('application/json');
}

/** The report a query string asks for. @throws GatewayError('invalid_request') naming the bad parameter */
export function parseUsageReportQuery(q: UsageQueryString, nowMs: number): UsageReportQuery {
  const untilMs = parseInstant(q.until, 'until') ?? nowMs;
  const sinceMs = parseInstant(q.since, 'since') ?? untilMs - DEFAULT_REPORT_RANGE_MS;
  if (sinceMs >= untilMs) throw new GatewayError('invalid_request', 'since must be before until', 'since');
  const query: UsageReportQuery = { sinceMs, untilMs, by: parseGroupings(q.by) };
  if (q.key !== undefined && q.key !== '') query.key = q.key;
  if (q.account !== undefined && q.account !== '') query.account = q.account;
  return query;
}

function parseGroupings(value: string | undefined): UsageRollupGrouping[] {
  if (value === undefined || value === '') return ['key'];
  const by = value.split(',').map((g) => g.trim());
  const allowed = USAGE_ROLLUP_GROUPINGS as readonly string[];
  const unknown = by.find((g) => !allowed.includes(g));
  if (unknown !== undefined) throw new GatewayError('invalid_request', `by must be one or two of ${USAGE_ROLLUP_GROUPINGS.join(', ')}, comma-separated`, 'by');
  if (by.length > 2 || new Set(by).size !== by.length) throw new GatewayError('invalid_request', 'by takes one or two different groupings', 'by');
  if (by.filter((g) => (TIME_GROUPINGS as readonly string[]).includes(g)).length > 1)
    throw new GatewayError('invalid_request', 'by takes at most one of day and hour', 'by');
  return by as UsageRollupGrouping[];
}

/** ms since epoch (digits) or an ISO 8601 date; undefined when absent. */
function parseInstant(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  // Date.parse alone is too lenient ('-5' is a year): an ISO time starts with its four-digit year.
  const ms = /^\d+$/.test(value) ? Number(value) : /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isSafeInteger(ms) || ms < 0) throw new GatewayError('invalid_request', `${name} must be ms since epoch or an ISO 8601 time`, name);
  return ms;
}
