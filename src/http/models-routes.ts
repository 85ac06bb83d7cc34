import type { FastifyInstance, FastifyRequest, HTTPMethods } from 'fastify';
import { GatewayError } from '../errors/codes.js';
import { MODELS_PATHS } from '../images/endpoint-aliases.js';
import { clipModelName, listModelNames } from '../images/model-aliases.js';
import type { Snapshot } from '../store/types.js';
import type { GatewayDeps } from './gateway-deps.js';
import { buildModelRouting } from './model-routing.js';
import { resolveGatewayKey } from './resolve-gateway-key.js';

/** `owned_by` of every model this gateway lists. */
export const MODEL_OWNER = 'codex-image-gateway';

/** Methods the model paths answer; any other is 405 with this `allow`. */
const MODEL_METHODS = ['GET', 'HEAD'];

/** One entry of OpenAI's model list. */
export interface OpenAIModel {
  id: string;
  object: 'model';
  /** Seconds since the epoch: when the alias row was created; 0 for a served model (unknown). */
  created: number;
  owned_by: typeof MODEL_OWNER;
}

/**
 * The models this gateway answers to, in OpenAI's shape: the served models (ALLOWED_MODELS), then
 * the exact alias names (listModelNames; prefix patterns are not model ids).
 */
export function buildModelList(snapshot: Snapshot, servedModels: readonly string[]): OpenAIModel[] {
  const createdMs = new Map(snapshot.modelAliases.map((row) => [row.alias, row.createdAt]));
  return listModelNames(buildModelRouting(snapshot, servedModels)).map((id) => ({
    id,
    object: 'model',
    created: Math.floor((createdMs.get(id) ?? 0) / 1000),
    owned_by: MODEL_OWNER,
  }));
}

/**
 * `GET <base>/models` and `GET <base>/models/{id}` for every public API base, authenticated with a
 * gateway key like the image paths (bearer → key → key status). The key's image switch and quota
 * are not checked: listing costs nothing, and a key whose image switch is off gets its precise 403
 * at the image call. `{id}` may hold `.`, `-`, `:` and `/`. Other methods: 405 with `allow`.
 */
export function registerModelRoutes(app: FastifyInstance, deps: GatewayDeps, methods: readonly HTTPMethods[]): void {
  const gate = async (req: FastifyRequest): Promise<void> => {
    if (!MODEL_METHODS.includes(req.method)) {
      throw new GatewayError('method_not_allowed', 'models endpoint requires GET', null, { headers: { allow: MODEL_METHODS.join(', ') } });
    }
    req.modelsSnapshot = resolveGatewayKey(req, deps.snapshots, deps.now()).snapshot;
  };
  const models = (req: FastifyRequest) => buildModelList(req.modelsSnapshot!, deps.config.allowedModels);
  for (const path of MODELS_PATHS) {
    app.route({ method: [...methods], url: path, onRequest: gate, handler: async (req) => ({ object: 'list', data: models(req) }) });
    app.route({
      method: [...methods],
      url: `${path}/*`,
      onRequest: gate,
      handler: async (req) => {
        const id = (req.params as { '*': string })['*'];
        if (id === '') throw new GatewayError('unsupported_path', 'unsupported image gateway path');
        const found = models(req).find((m) => m.id === id);
        if (!found) throw new GatewayError('model_not_found', `The model \`${clipModelName(id)}\` does not exist or is not served by this gateway`, 'model');
        return found;
      },
    });
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The snapshot the model routes' key check read (so the answer matches what authenticated). */
    modelsSnapshot?: Snapshot;
  }
}
