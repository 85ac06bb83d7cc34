import type { FastifyInstance } from 'fastify';
import type { ControlApi } from '../../control/control-api.js';
import { WIRE_FIELDS, buildWireView, parseWireBody } from '../../control/admin-wire.js';

type AliasParams = { Params: { alias: string } };

/**
 * Model mapping rows under `/model-aliases`: list, PUT one (create or replace; the alias is the
 * path segment, URL-encoded), DELETE one, POST `/model-aliases/reset` (back to the defaults).
 */
export function registerModelAliasRoutes(app: FastifyInstance, control: ControlApi): void {
  app.get('/model-aliases', async () => ({ data: (await control.modelAliases.list()).map(buildWireView) }));

  app.put<AliasParams>('/model-aliases/:alias', async (req) =>
    buildWireView(await control.modelAliases.set(req.params.alias, parseWireBody(WIRE_FIELDS.modelAliasSet, req.body))),
  );

  app.delete<AliasParams>('/model-aliases/:alias', async (req, reply) => {
    await control.modelAliases.remove(req.params.alias);
    return reply.code(204).send();
  });

  app.post('/model-aliases/reset', async () => ({ data: (await control.modelAliases.reset()).map(buildWireView) }));
}
