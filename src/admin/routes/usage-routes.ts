import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ControlApi } from '../../control/control-api.js';
import { buildWireView } from '../../control/admin-wire.js';
import { formatUsageReportCsv } from '../../control/usage-report.js';
import { parseUsageReportQuery } from '../../control/usage-report-query.js';
import { GatewayError } from '../../errors/codes.js';

type UsageQueryString = Record<string, string | undefined>;

/**
 * Usage:
 * - GET `/usage?since=&until=&by=&key=&account=&format=json|csv` → the usage report of a range from
 *   the persistent rollups (`{since, until, by, key, account, totals, rows}`), or the same rows as CSV
 *   with `Accept: text/csv` or `format=csv`. Times are ms since epoch, ISO 8601 or a duration before
 *   now such as `7d` (default: the last 24 hours); `by` is one grouping or two joined by a comma
 *   (default `key`). The parameters are parsed by parseUsageReportQuery, the CLI's parser too.
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
