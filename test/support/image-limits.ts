import { MAX_PROMPT_CHARS } from '../../src/images/image-options.js';
import type { ImageLimits } from '../../src/images/validate-image-fields.js';

/**
 * Validation rules for parser tests: the lenient field policy, the full prompt length, and a model
 * resolver that serves `servedModels` (the first is the default; any other name maps to it).
 */
export function testImageLimits(opts: Partial<Omit<ImageLimits, 'resolveModel'>> & { servedModels?: readonly string[] } = {}): ImageLimits {
  const { servedModels = ['gpt-image-2'], ...rest } = opts;
  return {
    resolveModel: (requested) => ({
      requested: requested ?? null,
      upstream: requested !== undefined && servedModels.includes(requested) ? requested : servedModels[0]!,
    }),
    maxInputImages: 16,
    maxPromptChars: MAX_PROMPT_CHARS,
    fieldPolicy: 'lenient',
    ...rest,
  };
}
