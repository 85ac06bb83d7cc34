import type { FastifyInstance } from 'fastify';
import type { ControlApi } from '../../control/control-api.js';
import { buildWireView, parseJobListQuery } from '../../control/admin-wire.js';

type RefParams = { Params: { ref: string } };

/**
 * Async image jobs for operators (ids, status, timings, codes; never a result):
 * GET `/jobs?key=&status=&limit=` (newest first), GET `/jobs/:ref` and POST `/jobs/:ref/cancel`
 * (ref = the job's id hash or a unique prefix of at least 12 hex characters).
 */
export function registerJobRoutes(app: FastifyInstance, control: ControlApi): void {
  app.get('/jobs', async (req) => ({ data: (await control.jobs.list(parseJobListQuery(req.query))).map(buildWireView) }));

  app.get<RefParams>('/jobs/:ref', async (req) => buildWireView(await control.jobs.show(req.params.ref)));

  app.post<RefParams>('/jobs/:ref/cancel', async (req) => buildWireView(await control.jobs.cancel(req.params.ref)));
}
