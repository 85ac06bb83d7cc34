import type { FastifyInstance } from 'fastify';
import { buildLimitMessage, FIELD_LIMITS, isWithinLimit, type FieldLimit } from '../../config/field-limits.js';
import { buildGatewayReachability } from '../../control/account-health-view.js';
import { buildWireView } from '../../control/admin-wire.js';
import type { GatewayStatusReader } from '../../control/gateway-status.js';
import { GatewayError } from '../../errors/codes.js';
import { buildActivityOverview } from '../../observe/activity-overview.js';
import { filterActivity, selectRequestLines } from '../../observe/activity-query.js';
import type { ImageLogEvent } from '../../observe/image-log-event.js';

type ActivityQuery = { Querystring: Record<string, string | undefined> };

/** An optional integer query parameter within `limit` (a FIELD_LIMITS entry). @throws GatewayError('invalid_request') */
export function parseIntegerParam(value: string | undefined, name: string, limit: FieldLimit): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!isWithinLimit(n, limit)) throw new GatewayError('invalid_request', buildLimitMessage(name, limit), name);
  return n;
}

/**
 * Every gateway's lines merged, newest first, with what the answers carry beside them: `sources`,
 * how many data planes were asked (0 = none to read, so the console can say why it is empty), and
 * `gateways`, which of them answered (name, registry id, error).
 */
async function readMerged(status: GatewayStatusReader) {
  const reports = await status.readActivity();
  const lines: ImageLogEvent[] = reports.flatMap((r) => (r.ok ? r.lines : [])).sort((a, b) => b.ts - a.ts);
  return { lines, sources: reports.length, gateways: buildGatewayReachability(reports).map(buildWireView) };
}

/**
 * Activity and Overview, from the recent request-log lines of every data plane read (the live ones
 * of the instance registry, or GATEWAY_STATUS_URLS; never a prompt or an image: the lines have no
 * field for one): GET `/activity?key=&account=&status=&error_class=&limit=` (newest first), GET
 * `/activity/:request_id` (the lines of one request, oldest first) and GET `/overview?minutes=`
 * (per-minute series and per-account load). Lists and overview carry `sources` and `gateways`
 * (readMerged).
 */
export function registerActivityRoutes(app: FastifyInstance, status: GatewayStatusReader, now: () => number = Date.now): void {
  app.get<ActivityQuery>('/activity', async (req) => {
    const q = req.query;
    const limit = parseIntegerParam(q.limit, 'limit', FIELD_LIMITS.activityLimit);
    const merged = await readMerged(status);
    const data = filterActivity(merged.lines, {
      key: q.key || undefined,
      account: q.account || undefined,
      status: q.status || undefined,
      errorClass: q.error_class || undefined,
      limit,
    });
    return { data, sources: merged.sources, gateways: merged.gateways };
  });

  app.get<{ Params: { requestId: string } }>('/activity/:requestId', async (req) => {
    const lines = selectRequestLines((await readMerged(status)).lines, req.params.requestId);
    if (lines.length === 0) throw new GatewayError('not_found', 'no recent request with this id', 'request_id');
    return { request_id: req.params.requestId, data: lines };
  });

  app.get<ActivityQuery>('/overview', async (req) => {
    const overview = FIELD_LIMITS.overviewMinutes;
    const minutes = parseIntegerParam(req.query.minutes, 'minutes', overview) ?? overview.default;
    const merged = await readMerged(status);
    const o = buildActivityOverview(merged.lines, minutes, now());
    return {
      sources: merged.sources,
      gateways: merged.gateways,
      minutes: o.minutes,
      from: o.from,
      totals: o.totals,
      accounts: o.accounts,
      series: o.series.map((m) => ({
        minute: m.minute,
        requests: m.requests,
        images: m.images,
        successes: m.successes,
        failures: m.failures,
        failures_by_class: m.failuresByClass,
        latency_p50_ms: m.latencyP50Ms,
        latency_p95_ms: m.latencyP95Ms,
      })),
    };
  });
}
