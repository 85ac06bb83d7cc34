import type { FastifyInstance } from 'fastify';
import { buildWireView } from '../../control/admin-wire.js';
import type { ControlApi } from '../../control/control-api.js';

/**
 * The instance registry for operators: GET `/instances`, every process that shares this database
 * (live, dead or stopped, with a `live` flag), from their heartbeat rows.
 */
export function registerInstanceRoutes(app: FastifyInstance, control: ControlApi): void {
  app.get('/instances', async () => ({ data: (await control.instances.list()).map(buildWireView) }));
}
