import type { FastifyInstance } from 'fastify';
import type { ControlApi } from '../../control/control-api.js';
import { WIRE_FIELDS, buildWireView, parseWireBody } from '../../control/admin-wire.js';

/** Runtime settings: GET `/settings`, PATCH `/settings` (partial; the service checks ranges). */
export function registerSettingsRoutes(app: FastifyInstance, control: ControlApi): void {
  app.get('/settings', async () => buildWireView(await control.settings.get()));

  app.patch('/settings', async (req) => buildWireView(await control.settings.update(parseWireBody(WIRE_FIELDS.settingsUpdate, req.body))));
}
