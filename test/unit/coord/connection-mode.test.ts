import { describe, expect, it } from 'vitest';
import { ConnectionMode, type ModeChange } from '../../../src/coord/connection-mode.js';

describe('ConnectionMode', () => {
  it('starts local and reports each real transition once', () => {
    const mode = new ConnectionMode();
    const heard: ModeChange[] = [];
    mode.onChange((c) => heard.push(c));
    expect(mode.mode).toBe('local');
    mode.set('local', 'connection_lost');
    mode.set('shared', 'connected');
    mode.set('shared', 'recovered');
    mode.set('local', 'command_failed');
    mode.set('local', 'connection_lost');
    expect(heard).toEqual([
      { mode: 'shared', cause: 'connected' },
      { mode: 'local', cause: 'command_failed' },
    ]);
  });

  it('a removed listener hears nothing more', () => {
    const mode = new ConnectionMode();
    const heard: ModeChange[] = [];
    const remove = mode.onChange((c) => heard.push(c));
    remove();
    mode.set('shared', 'connected');
    expect(heard).toEqual([]);
  });
});
