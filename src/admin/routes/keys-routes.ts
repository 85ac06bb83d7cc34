import type { FastifyInstance } from 'fastify';
import type { ControlApi } from '../../control/control-api.js';
import { WIRE_FIELDS, buildWireView, parseWireBody } from '../../control/admin-wire.js';

type RefParams = { Params: { ref: string } };

/**
 * Keys: GET/POST `/keys`, GET/PATCH/DELETE `/keys/:ref` (ref = id or name), POST `/keys/:ref/rotate`,
 * POST `/keys/:ref/reset-usage` (the key's usage in its quota period starts from zero; audited in the app log).
 * The create (201) and rotate (200) responses `{key, secret}` are the only answers that ever carry a secret.
 */
export function registerKeyRoutes(app: FastifyInstance, control: ControlApi): void {
  app.get('/keys', async () => ({ data: (await control.keys.list()).map(buildWireView) }));

  app.post('/keys', async (req, reply) => {
    const created = await control.keys.create(parseWireBody(WIRE_FIELDS.keyCreate, req.body));
    return reply.code(201).send(buildWireView(created));
  });

  app.get<RefParams>('/keys/:ref', async (req) => buildWireView(await control.keys.get(req.params.ref)));

  app.patch<RefParams>('/keys/:ref', async (req) => buildWireView(await control.keys.update(req.params.ref, parseWireBody(WIRE_FIELDS.keyUpdate, req.body))));

  app.post<RefParams>('/keys/:ref/rotate', async (req) =>
    buildWireView(await control.keys.rotate(req.params.ref, parseWireBody(WIRE_FIELDS.keyRotate, req.body ?? {}))),
  );

  app.post<RefParams>('/keys/:ref/reset-usage', async (req) => buildWireView(await control.keys.resetUsage(req.params.ref)));

  app.delete<RefParams>('/keys/:ref', async (req, reply) => {
    await control.keys.delete(req.params.ref);
    return reply.code(204).send();
  });
}
