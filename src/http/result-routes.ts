import type { FastifyInstance, HTTPMethods } from 'fastify';
import { GatewayError } from '../errors/codes.js';
import { RESULTS_PATHS } from '../images/endpoint-aliases.js';
import type { GatewayDeps } from './gateway-deps.js';

/** Methods the result paths answer; any other is 405 with this `allow`. */
const RESULT_METHODS = ['GET', 'HEAD'];

/**
 * `GET <base>/images/results/{token}` under every public API base: the image behind a hosted result
 * URL. No key: the token is the capability (it alone opens the sealed row). Unknown, malformed and
 * expired tokens are the same 404, so an answer says nothing about which it was. The client may
 * cache the image privately until the URL expires.
 */
export function registerResultRoutes(app: FastifyInstance, deps: GatewayDeps, methods: readonly HTTPMethods[]): void {
  for (const path of RESULTS_PATHS) {
    app.route({
      method: [...methods],
      url: `${path}/:token`,
      handler: async (req, reply) => {
        if (!RESULT_METHODS.includes(req.method)) {
          throw new GatewayError('method_not_allowed', 'image results require GET', null, { headers: { allow: RESULT_METHODS.join(', ') } });
        }
        const { token } = req.params as { token: string };
        const found = deps.hostedResults ? await deps.hostedResults.open(token) : null;
        if (!found) throw new GatewayError('result_not_found', 'this image result does not exist or has expired');
        const maxAgeS = Math.max(0, Math.floor((found.expiresAt - deps.now()) / 1000));
        return reply
          .code(200)
          .headers({
            'content-type': found.contentType,
            'content-length': String(found.bytes.length),
            'cache-control': `private, max-age=${maxAgeS}`,
            'x-content-type-options': 'nosniff',
          })
          .send(found.bytes);
      },
    });
  }
}
