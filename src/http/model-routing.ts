import type { ModelRouting } from '../images/model-aliases.js';
import type { Snapshot } from '../store/types.js';

/**
 * What model resolution needs for one request: the alias rows and the strict switch from the
 * snapshot (so an admin change applies on the next reload), the served models from config
 * ALLOWED_MODELS (the first is the default).
 */
export function buildModelRouting(snapshot: Snapshot, servedModels: readonly string[]): ModelRouting {
  return { aliases: snapshot.modelAliases, strict: snapshot.settings.modelAliasesStrict, servedModels };
}
