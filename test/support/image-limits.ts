import { MAX_PROMPT_CHARS } from '../../src/images/image-options.js';
import { DEFAULT_MODEL_ALIASES, resolveImageModel } from '../../src/images/model-aliases.js';
import type { ImageLimits } from '../../src/images/validate-image-fields.js';

/**
 * Validation rules for parser tests: the lenient field policy, the full prompt length, and model
 * resolution through the default alias table with `servedModels` (the first is the default).
 */
export function testImageLimits(opts: Partial<Omit<ImageLimits, 'resolveModel'>> & { servedModels?: readonly string[] } = {}): ImageLimits {
  const { servedModels = ['gpt-image-2'], ...rest } = opts;
  const routing = { aliases: DEFAULT_MODEL_ALIASES, strict: false, servedModels };
  return {
    resolveModel: (requested) => resolveImageModel(requested, routing),
    maxInputImages: 16,
    maxPromptChars: MAX_PROMPT_CHARS,
    fieldPolicy: 'lenient',
    ...rest,
  };
}
