import { describe, expect, it } from 'vitest';
import { buildRefreshedAuthDocument } from '../../../src/upstream/refreshed-auth-document.js';

const NOW = Date.parse('2026-11-26T12:00:00.000Z');
const all = { accessToken: 'new-a', refreshToken: 'new-r', idToken: 'new-i' };

describe('buildRefreshedAuthDocument', () => {
  it('replaces the Codex CLI tokens, keeps everything else, and stamps last_refresh', () => {
    const doc = {
      auth_mode: 'chatgpt',
      OPENAI_API_KEY: null,
      tokens: { access_token: 'a', refresh_token: 'r', id_token: 'i', account_id: 'acc' },
      last_refresh: 'old',
    };
    const before = structuredClone(doc);
    expect(buildRefreshedAuthDocument(doc, all, NOW)).toEqual({
      auth_mode: 'chatgpt',
      OPENAI_API_KEY: null,
      tokens: { access_token: 'new-a', refresh_token: 'new-r', id_token: 'new-i', account_id: 'acc' },
      last_refresh: '2026-11-26T12:00:00.000Z',
    });
    expect(doc).toEqual(before);
  });

  it('keeps the old value of every token the response omitted', () => {
    const doc = { tokens: { access_token: 'a', refresh_token: 'r', id_token: 'i' } };
    expect(buildRefreshedAuthDocument(doc, { accessToken: 'new-a', refreshToken: null, idToken: null }, NOW).tokens).toEqual({
      access_token: 'new-a',
      refresh_token: 'r',
      id_token: 'i',
    });
  });

  it('writes flat documents flat, in the spelling they used', () => {
    expect(buildRefreshedAuthDocument({ accessToken: 'a', refreshToken: 'r' }, all, NOW)).toEqual({
      accessToken: 'new-a',
      refreshToken: 'new-r',
      id_token: 'new-i',
      last_refresh: '2026-11-26T12:00:00.000Z',
    });
    expect(buildRefreshedAuthDocument({ access_token: 'a' }, { ...all, idToken: null }, NOW)).toEqual({
      access_token: 'new-a',
      refresh_token: 'new-r',
      last_refresh: '2026-11-26T12:00:00.000Z',
    });
  });
});
