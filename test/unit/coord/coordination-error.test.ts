import { describe, expect, it } from 'vitest';
import { CoordinationError, toCoordinationError } from '../../../src/coord/coordination-error.js';

const reply = (message: string): Error => Object.assign(new Error(message), { name: 'ReplyError' });

describe('toCoordinationError', () => {
  it.each([
    ['a command timeout', new Error('Command timed out')],
    ['a closed connection', new Error('Connection is closed.')],
    ['an unwritable stream', new Error("Stream isn't writeable and enableOfflineQueue options is false")],
    ['a Redis out of memory', reply("OOM command not allowed when used memory > 'maxmemory'.")],
    ['a Redis still loading', reply('LOADING Redis is loading the dataset in memory')],
    ['a read-only replica', reply("READONLY You can't write against a read only replica.")],
  ])('%s means Redis is unavailable', (_name, err) => {
    const wrapped = toCoordinationError(err);
    expect(wrapped).toBeInstanceOf(CoordinationError);
    expect(wrapped.code).toBe('coordination_unavailable');
    expect(wrapped.cause).toBe(err);
  });

  it.each([
    ['a script error', reply('ERR user_script:1: Script attempted to access nonexistent global variable')],
    ['a wrong type', reply('WRONGTYPE Operation against a key holding the wrong kind of value')],
  ])('%s is a failure, not an outage', (_name, err) => {
    expect(toCoordinationError(err).code).toBe('coordination_failed');
  });
});
