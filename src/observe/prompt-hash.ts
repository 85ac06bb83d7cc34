import { createHash } from 'node:crypto';

/**
 * Lowercase hex SHA-256 of the raw prompt (UTF-8), for the request log's `prompt_hash`.
 * It lets an operator correlate repeated prompts without the log ever holding prompt text.
 */
export function hashPrompt(prompt: string): string {
  return createHash('sha256').update(prompt, 'utf8').digest('hex');
}
