import { createHmac } from 'node:crypto';

/**
 * Makes the request log's `prompt_hash`: lowercase hex HMAC-SHA256 of the raw prompt (UTF-8) under a
 * per-installation key (derived from the master key). It lets an operator correlate repeated
 * prompts without the log ever holding prompt text, and — unlike a plain hash — someone holding the
 * logs but not the key cannot confirm a guessed prompt.
 */
export function createPromptHasher(key: Buffer): (prompt: string) => string {
  const secret = Buffer.from(key);
  return (prompt) => createHmac('sha256', secret).update(prompt, 'utf8').digest('hex');
}
