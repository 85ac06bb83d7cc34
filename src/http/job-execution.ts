import type { HeldSlot } from '../dispatch/run-failover.js';
import { toOpenAIError } from '../errors/openai-shape.js';
import { buildUpstreamErrorResponse } from '../upstream/upstream-error.js';
import type { DispatchCore } from './dispatch-context.js';
import { explainNoImage, runParts } from './fan-out-dispatch.js';
import { combineImagesResponses } from './fan-out-response.js';
import { hostImagesResponse, resolveHostedImages } from './hosted-images.js';

/** What an async job ended with: the answer the plain request would have given, or a cancellation. */
export type JobAnswer = { kind: 'answer'; status: number; body: unknown; errorCode: string | null } | { kind: 'cancelled' };

/**
 * Runs an admitted request to its final answer without an HTTP exchange (an async job): the same
 * planning, per-account permits, failover and recording as a plain request, each of its `n` images
 * one upstream call (parts read whole, as the JSON fan-out does). Part 0 starts on `held`, the slot
 * the admission queue gave the job; a part that finds every account at its cap waits in the same
 * queue for up to `waitMs` (what is left of JOB_MAX_QUEUE_MS). Returns the exact Images API body
 * the plain request would have answered, or the OpenAI error body with its status. The caller holds
 * the key permit. Leaves `outcome.ending` set.
 */
export async function executeImageJob(core: DispatchCore, opts: { held: HeldSlot; waitMs: number }): Promise<JobAnswer> {
  const run = await runParts(core, opts);
  if (run.images.length > 0) {
    const combined = combineImagesResponses(run.images.map((i) => i.json));
    // In RESULT_URL_MODE=hosted the parts were read as b64_json: store them and answer their URLs, as the plain request would.
    const hosted = resolveHostedImages(core.deps, core.outcome.request);
    let body = combined;
    if (hosted) {
      try {
        body = await hostImagesResponse(combined, hosted);
      } catch (err) {
        const mapped = toOpenAIError(err);
        run.end(mapped.status, 0);
        return { kind: 'answer', status: mapped.status, body: mapped.body, errorCode: mapped.body.error.code };
      }
    }
    run.end(200, Array.isArray(body.data) ? body.data.length : 0);
    return { kind: 'answer', status: 200, body, errorCode: null };
  }
  const why = explainNoImage(core, run.parts);
  switch (why.kind) {
    case 'aborted':
      run.end(499, 0);
      return { kind: 'cancelled' };
    case 'upstream_error': {
      const built = buildUpstreamErrorResponse(why.part.status, why.part.info);
      run.end(built.status, 0);
      return { kind: 'answer', status: built.status, body: built.body, errorCode: built.body.error.code ?? 'upstream_error' };
    }
    case 'exhausted': {
      const mapped = toOpenAIError(why.error);
      run.end(mapped.status, 0);
      return { kind: 'answer', status: mapped.status, body: mapped.body, errorCode: mapped.body.error.code };
    }
  }
}
