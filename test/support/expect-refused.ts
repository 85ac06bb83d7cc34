import OpenAI from 'openai';
import { expect } from 'vitest';

/**
 * Polls image generations with `client` until the gateway answers 403 (PermissionDeniedError), and
 * asserts that this happened within `withinMs` of `changedAt` — how fast a control change must reach
 * the data plane.
 */
export async function expectRefusedWithin(client: OpenAI, changedAt: number, withinMs = 1_000): Promise<void> {
  for (;;) {
    const err = await client.images.generate({ prompt: 'after the change' }).then(
      () => null,
      (e: unknown) => e,
    );
    if (err instanceof OpenAI.PermissionDeniedError) break;
    expect(Date.now() - changedAt).toBeLessThan(withinMs);
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(Date.now() - changedAt).toBeLessThan(withinMs);
}
