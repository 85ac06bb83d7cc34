import type { FastifyBaseLogger } from 'fastify';
import { describe, expect, it } from 'vitest';
import { createShutdownStack, runShutdownSteps } from '../../../src/runtime/shutdown-steps.js';

/** A logger that keeps what was logged at error level. */
function recordingLogger(): { logger: FastifyBaseLogger; errors: Array<{ obj: unknown; msg: string }> } {
  const errors: Array<{ obj: unknown; msg: string }> = [];
  const logger = { error: (obj: unknown, msg: string) => errors.push({ obj, msg }) } as unknown as FastifyBaseLogger;
  return { logger, errors };
}

describe('runShutdownSteps', () => {
  it('runs every step in order even when some fail, logs each failure, and rejects with the first', async () => {
    const { logger, errors } = recordingLogger();
    const ran: string[] = [];
    const first = Object.assign(new Error('server close failed'), { code: 'E_FIRST' });
    const steps = [
      async () => void ran.push('servers'),
      async () => {
        ran.push('data plane');
        throw first;
      },
      async () => {
        ran.push('flush');
        throw new Error('flush failed');
      },
      async () => void ran.push('database'),
    ];
    await expect(runShutdownSteps(logger, 'serve', steps)).rejects.toBe(first);
    expect(ran).toEqual(['servers', 'data plane', 'flush', 'database']);
    expect(errors).toEqual([
      { obj: { err: { code: 'E_FIRST', message: 'server close failed' } }, msg: 'serve shutdown step failed' },
      { obj: { err: { code: undefined, message: 'flush failed' } }, msg: 'serve shutdown step failed' },
    ]);
  });

  it('resolves when every step does', async () => {
    const { logger, errors } = recordingLogger();
    await expect(runShutdownSteps(logger, 'start', [async () => 1, async () => undefined])).resolves.toBeUndefined();
    expect(errors).toEqual([]);
  });
});

describe('createShutdownStack', () => {
  it('undoes newest first, each step once, and still reaches the oldest after a failure', async () => {
    const { logger } = recordingLogger();
    const ran: string[] = [];
    const stack = createShutdownStack(logger, 'start');
    stack.push(async () => void ran.push('database'));
    stack.push(async () => {
      ran.push('data plane');
      throw new Error('boom');
    });
    stack.push(async () => void ran.push('admin app'));
    await expect(stack.run()).rejects.toThrow('boom');
    expect(ran).toEqual(['admin app', 'data plane', 'database']);
    await stack.run();
    expect(ran).toHaveLength(3);
  });
});
