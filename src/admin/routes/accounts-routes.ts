import type { FastifyInstance } from 'fastify';
import type { ControlApi } from '../../control/control-api.js';
import { WIRE_FIELDS, buildWireView, parseWireBody } from '../../control/admin-wire.js';

type RefParams = { Params: { ref: string } };

/** Largest import body: an auth.json is a few KiB; anything near this is not one. */
export const IMPORT_BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * Accounts: GET `/accounts`, POST `/accounts/import` (201 for a new account, 200 when an existing one
 * was updated; the view carries `outcome` and `changed`), GET/PATCH/DELETE `/accounts/:ref` (ref = id or name).
 * Views never hold a token; the proxy comes back with its password masked by the service.
 */
export function registerAccountRoutes(app: FastifyInstance, control: ControlApi): void {
  app.get('/accounts', async () => ({ data: (await control.accounts.list()).map(buildWireView) }));

  app.post('/accounts/import', { bodyLimit: IMPORT_BODY_LIMIT_BYTES }, async (req, reply) => {
    const result = await control.accounts.import(parseWireBody(WIRE_FIELDS.accountImport, req.body));
    return reply.code(result.outcome === 'created' ? 201 : 200).send(buildWireView(result));
  });

  app.get<RefParams>('/accounts/:ref', async (req) => buildWireView(await control.accounts.get(req.params.ref)));

  app.patch<RefParams>('/accounts/:ref', async (req) =>
    buildWireView(await control.accounts.update(req.params.ref, parseWireBody(WIRE_FIELDS.accountUpdate, req.body))),
  );

  app.delete<RefParams>('/accounts/:ref', async (req, reply) => {
    await control.accounts.delete(req.params.ref);
    return reply.code(204).send();
  });
}
