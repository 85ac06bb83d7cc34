import type { FastifyInstance } from 'fastify';
import type { ControlApi } from '../../control/control-api.js';
import { buildWireView } from '../../control/admin-wire.js';

/** Usage: GET `/usage` → `{totals, keys: [...]}`, per-key image usage and the sum over all keys. */
export function registerUsageRoutes(app: FastifyInstance, control: ControlApi): void {
  app.get('/usage', async () => buildWireView(await control.usage.summary()));
}
