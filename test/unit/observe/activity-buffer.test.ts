import { describe, expect, it } from 'vitest';
import { createActivityBuffer, teeRequestLog } from '../../../src/observe/activity-buffer.js';
import type { ImageLogEvent } from '../../../src/observe/image-log-event.js';
import { makeLogEvent } from '../../support/log-events.js';

const ids = (events: ImageLogEvent[]) => events.map((e) => e.request_id);

describe('activity buffer', () => {
  it.each([
    { capacity: 3, writes: 0, expected: [] },
    { capacity: 3, writes: 2, expected: ['r1', 'r0'] },
    { capacity: 3, writes: 3, expected: ['r2', 'r1', 'r0'] },
    { capacity: 3, writes: 4, expected: ['r3', 'r2', 'r1'] },
    { capacity: 3, writes: 7, expected: ['r6', 'r5', 'r4'] },
    { capacity: 1, writes: 2, expected: ['r1'] },
  ])('capacity $capacity after $writes writes lists $expected newest first', ({ capacity, writes, expected }) => {
    const buffer = createActivityBuffer(capacity);
    for (let i = 0; i < writes; i++) buffer.write(makeLogEvent({ request_id: `r${i}` }));
    expect(ids(buffer.list())).toEqual(expected);
  });

  it('list returns a copy the caller may change', () => {
    const buffer = createActivityBuffer(2);
    buffer.write(makeLogEvent());
    buffer.list().pop();
    expect(buffer.list()).toHaveLength(1);
  });

  it.each([0, -1, 1.5])('refuses capacity %s', (capacity) => {
    expect(() => createActivityBuffer(capacity)).toThrow(/positive integer/);
  });

  it('the tee writes every event to both the log and the buffer', () => {
    const written: ImageLogEvent[] = [];
    const buffer = createActivityBuffer(5);
    const log = teeRequestLog({ write: (e) => written.push(e) }, buffer);
    log.write(makeLogEvent({ request_id: 'a' }));
    log.write(makeLogEvent({ request_id: 'b' }));
    expect(ids(written)).toEqual(['a', 'b']);
    expect(ids(buffer.list())).toEqual(['b', 'a']);
  });
});
