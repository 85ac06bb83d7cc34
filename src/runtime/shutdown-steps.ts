import type { FastifyBaseLogger } from 'fastify';
import { errorSummary } from '../observe/app-logger.js';

/**
 * Runs shutdown steps in order, every one of them even when one before it fails: a failed close of
 * a server must not leave usage unflushed, the database open or a lock held. Each failure is logged
 * (code and message only) as `<what> shutdown step failed`; once all have run, rejects with the
 * first failure, so the process exits non-zero.
 */
export async function runShutdownSteps(logger: FastifyBaseLogger, what: string, steps: ReadonlyArray<() => Promise<unknown>>): Promise<void> {
  let failure: { err: unknown } | null = null;
  for (const step of steps) {
    try {
      await step();
    } catch (err) {
      logger.error({ err: errorSummary(err) }, `${what} shutdown step failed`);
      failure ??= { err };
    }
  }
  if (failure !== null) throw failure.err;
}

/** Shutdown steps gathered while a process starts: `run` undoes them in reverse, every one, once. */
export interface ShutdownStack {
  /** Adds the step that undoes what was just started. */
  push(step: () => Promise<unknown>): void;
  /** Runs the steps gathered so far, newest first (runShutdownSteps); later calls find none left. */
  run(): Promise<void>;
}

/** A ShutdownStack whose failures are logged as `<what> shutdown step failed`. */
export function createShutdownStack(logger: FastifyBaseLogger, what: string): ShutdownStack {
  const steps: Array<() => Promise<unknown>> = [];
  return {
    push: (step) => void steps.push(step),
    run: () => runShutdownSteps(logger, what, steps.splice(0).reverse()),
  };
}
