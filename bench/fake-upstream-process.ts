/**
 * The fake Codex upstream in its own process, so that benchmarks measure the gateway's memory and CPU
 * alone. Prints `{"baseUrl": …}` on stdout once listening; each stdin line is a JSON command:
 * `{"imageBytes": N, "delayMs": D}` makes every account answer with N-byte images (0 = the default
 * tiny PNG) after D ms (default 0: a generation that takes no time).
 */
import { createInterface } from 'node:readline';
import { fakeBehaviors, startFakeCodexUpstream } from '../test/support/fake-codex-upstream.js';

const fake = await startFakeCodexUpstream();
process.stdout.write(`${JSON.stringify({ baseUrl: fake.baseUrl })}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line) as { imageBytes?: number; delayMs?: number };
  fake.reset();
  fake.setBehavior('*', fakeBehaviors.success({ ...(cmd.imageBytes ? { imageBytes: cmd.imageBytes } : {}), ...(cmd.delayMs ? { delayMs: cmd.delayMs } : {}) }));
  process.stdout.write(`${JSON.stringify({ ok: true })}\n`);
}
await fake.close();
