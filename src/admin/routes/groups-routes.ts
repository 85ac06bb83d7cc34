import type { FastifyInstance } from 'fastify';
import type { ControlApi } from '../../control/control-api.js';
import { WIRE_FIELDS, buildWireView, parseWireBody } from '../../control/admin-wire.js';

type RefParams = { Params: { ref: string } };

/** Groups (named, ordered sets of accounts a key can be pinned to): CRUD under `/groups`. */
export function registerGroupRoutes(app: FastifyInstance, control: ControlApi): void {
  app.get('/groups', async () => ({ data: (await control.groups.list()).map(buildWireView) }));

  app.post('/groups', async (req, reply) => {
    const group = await control.groups.create(parseWireBody(WIRE_FIELDS.groupCreate, req.body));
    return reply.code(201).send(buildWireView(group));
  });

  app.get<RefParams>('/groups/:ref', async (req) => buildWireView(await control.groups.get(req.params.ref)));

  app.patch<RefParams>('/groups/:ref', async (req) =>
    buildWireView(await control.groups.update(req.params.ref, parseWireBody(WIRE_FIELDS.groupUpdate, req.body))),
  );

  app.delete<RefParams>('/groups/:ref', async (req, reply) => {
    await control.groups.delete(req.params.ref);
    return reply.code(204).send();
  });
}
