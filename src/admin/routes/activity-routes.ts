import type { FastifyInstance } from 'fastify';
import { buildLimitMessage, FIELD_LIMITS, isWithinLimit, type FieldLimit } from '../../config/field-limits.js';
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

/** Every gateway's lines merged, newest first. */
async function readMerged(status: GatewayStatusReader): Promise<ImageLogEvent[]> {
  return (await status.readActivity()).flat().sort((a, b) => b.ts - a.ts);
}

/**
 * Activity and Overview, from the gateways' recent request-log lines (never a prompt or an image:
 * the lines have no field for one): GET `/activity?key=&account=&status=&error_class=&limit=`
 * (newest first), GET `/activity/:request_id` (the lines of one request, oldest first) and
 * GET `/overview?minutes=` (per-minute series and per-account load). Lists and overview carry
 * `sources`: how many data planes were read, so the console can say why it is empty when none is
 * configured (a `control` without GATEWAY_STATUS_URLS).
 */
export function registerActivityRoutes(app: FastifyInstance, status: GatewayStatusReader, now: () => number = Date.now): void {
  app.get<ActivityQuery>('/activity', async (req) => {
    const q = req.query;
    const limit = parseIntegerParam(q.limit, 'limit', FIELD_LIMITS.activityLimit);
    const data = filterActivity(await readMerged(status), {
      key: q.key || undefined,
      account: q.account || undefined,
      status: q.status || undefined,
      errorClass: q.error_class || undefined,
      limit,
    });
    return { data, sources: status.sourceCount };
  });

  app.get<{ Params: { requestId: string } }>('/activity/:requestId', async (req) => {
    const lines = selectRequestLines(await readMerged(status), req.params.requestId);
    if (lines.length === 0) throw new GatewayError('not_found', 'no recent request with this id', 'request_id');
    return { request_id: req.params.requestId, data: lines };
  });

  app.get<ActivityQuery>('/overview', async (req) => {
    const overview = FIELD_LIMITS.overviewMinutes;
    const minutes = parseIntegerParam(req.query.minutes, 'minutes', overview) ?? overview.default;
    const o = buildActivityOverview(await readMerged(status), minutes, now());
    return {
      sources: status.sourceCount,
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
