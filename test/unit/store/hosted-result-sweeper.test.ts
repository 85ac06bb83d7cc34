import { describe, expect, it } from 'vitest';
import { startHostedResultSweeper } from '../../../src/store/hosted-result-sweeper.js';
import { waitFor } from '../../support/wait-for.js';

describe('hosted result sweeper', () => {
  it('sweeps every interval, reports failures and keeps going', async () => {
    let calls = 0;
    const errors: unknown[] = [];
    const sweeper = startHostedResultSweeper({
      intervalMs: 5,
      sweep: async () => {
        calls += 1;
        if (calls === 2) throw new Error('database went away');
        return 0;
      },
      onError: (err) => errors.push(err),
    });
    await waitFor('four sweeps', () => calls >= 4);
    await sweeper.stop();
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('database went away');
  });

  it('stop waits for a sweep in progress, and none starts after it', async () => {
    let calls = 0;
    let finish!: () => void;
    let finished = false;
    const sweeper = startHostedResultSweeper({
      intervalMs: 5,
      sweep: () => {
        calls += 1;
        return new Promise<number>((resolve) => {
          finish = () => {
            finished = true;
            resolve(1);
          };
        });
      },
      onError: () => undefined,
    });
    await waitFor('a sweep to start', () => calls === 1);
    const stopped = sweeper.stop();
    let stopDone = false;
    void stopped.then(() => (stopDone = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopDone).toBe(false);
    finish();
    await stopped;
    expect(finished).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 30)); // several intervals: proves no later sweep
    expect(calls).toBe(1);
  });
});
