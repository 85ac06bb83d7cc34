import type { FastifyInstance } from 'fastify';
import { buildAccountHealthViews, buildGatewayReachability } from '../../control/account-health-view.js';
import { buildWireView } from '../../control/admin-wire.js';
import type { ControlApi } from '../../control/control-api.js';
import type { GatewayStatusReader } from '../../control/gateway-status.js';

/**
 * Account health: GET `/accounts/health` (needs-reimport, last error, token times, in-flight and
 * cooldowns of every gateway, and which gateways answered) and DELETE `/accounts/:ref/cooldown`
 * (ends the account's cooldown on every gateway; `cleared` = how many had one). Never a token.
 */
export function registerAccountHealthRoutes(app: FastifyInstance, control: ControlApi, status: GatewayStatusReader): void {
  app.get('/accounts/health', async () => {
    const [accounts, reports] = await Promise.all([control.accounts.list(), status.read()]);
    return { data: buildAccountHealthViews(accounts, reports).map(buildWireView), gateways: buildGatewayReachability(reports).map(buildWireView) };
  });

  app.delete<{ Params: { ref: string } }>('/accounts/:ref/cooldown', async (req) => {
    const account = await control.accounts.get(req.params.ref);
    return { id: account.id, cleared: await status.clearCooldown(account.id) };
  });
}
