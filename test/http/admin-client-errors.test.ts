import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAdminApp } from '../../src/admin/admin-app.js';
import type { ControlApi } from '../../src/control/control-api.js';
import { openRawSocket, parseRawAnswer, PARSER_REFUSALS, readUntilClosed, sendRaw } from '../support/raw-http.js';

/**
 * The admin listener answers what never reaches one of its routes the way the data plane does, from
 * the same code: parser refusals in the OpenAI shape on the raw socket, and an answer that leaves a
 * body unread closes its connection. Real HTTP on loopback; no case here reaches the control services.
 */
const ADMIN_TOKEN = 'admin-token-for-client-error-tests-0123';
const AUTH = `Authorization: Bearer ${ADMIN_TOKEN}\r\n`;
/** Any use of the services fails loudly: none of these requests may get that far. */
const unreachableControl = new Proxy(
  {},
  {
    get: () => new Proxy({}, { get: () => () => Promise.reject(new Error('the control services were reached')) }),
  },
) as ControlApi;

let app: FastifyInstance;
let baseUrl: string;

beforeAll(async () => {
  app = buildAdminApp({ control: unreachableControl, adminToken: ADMIN_TOKEN });
  baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => app?.close());

const errorBody = (code: string, type: string, param: string | null = null) => ({ error: { message: expect.any(String), type, param, code } });

describe('admin listener: requests the HTTP parser refuses', () => {
  for (const c of PARSER_REFUSALS) {
    it(`${c.name}: ${c.status} in the OpenAI shape, connection closed`, async () => {
      const answer = await sendRaw(baseUrl, c.raw.replace(/\/healthz|\/v1\/images\/generations/, '/admin/api/health'));
      expect(answer.status).toBe(c.status);
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      expect(answer.headers.connection).toBe('close');
      expect(JSON.parse(answer.body)).toEqual(errorBody(c.code, 'invalid_request_error', c.param));
    });
  }
});

/** A POST to /admin/api/keys declaring `declaredBytes` of JSON but sending only `sent`. */
const partialPost = (headers: string, declaredBytes: number, sent: string) =>
  `POST /admin/api/keys HTTP/1.1\r\nHost: a\r\n${headers}Content-Type: application/json\r\nContent-Length: ${declaredBytes}\r\n\r\n${sent}`;

describe('admin listener: an answer that leaves the body unread closes the connection', () => {
  it.each([
    { name: '401 before the body is read', headers: '', declared: 10_000, status: 401, code: 'admin_unauthorized', type: 'authentication_error' },
    { name: '413 for a body over the admin limit', headers: AUTH, declared: 100_000, status: 413, code: 'body_too_large', type: 'invalid_request_error' },
  ])('$name: OpenAI shape, then the server closes while the client still holds the rest', async (c) => {
    const socket = await openRawSocket(baseUrl);
    const text = readUntilClosed(socket);
    socket.write(partialPost(c.headers, c.declared, '{"name":'));
    // The client never sends the rest nor closes its side: the server must end the connection itself.
    const answer = parseRawAnswer(await text);
    expect(answer.status).toBe(c.status);
    expect(answer.headers.connection).toBe('close');
    expect(JSON.parse(answer.body)).toEqual(errorBody(c.code, c.type));
  });

  it.each([
    { name: 'malformed JSON', type: 'application/json', body: '{"name":', status: 400, code: 'invalid_json' },
    { name: 'a body that is not a JSON object', type: 'text/plain', body: 'hello', status: 400, code: 'invalid_request' },
    { name: 'an unsupported content type', type: 'application/xml', body: '<a/>', status: 415, code: 'unsupported_media_type' },
  ])('$name, read whole: $status in the OpenAI shape', async (c) => {
    const answer = await sendRaw(
      baseUrl,
      `POST /admin/api/keys HTTP/1.1\r\nHost: a\r\n${AUTH}Content-Type: ${c.type}\r\nContent-Length: ${c.body.length}\r\nConnection: close\r\n\r\n${c.body}`,
    );
    expect(answer.status).toBe(c.status);
    expect(answer.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(answer.body)).toEqual(errorBody(c.code, 'invalid_request_error'));
  });

  it('an error answered after the whole body was read keeps the connection for the next request', async () => {
    const socket = await openRawSocket(baseUrl);
    const text = readUntilClosed(socket);
    const bad = `POST /admin/api/keys HTTP/1.1\r\nHost: a\r\n${AUTH}Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello`;
    const next = `GET /admin/api/health HTTP/1.1\r\nHost: a\r\n${AUTH}Connection: close\r\n\r\n`;
    socket.write(`${bad}${next}`);
    const both = await text;
    expect(both).toMatch(/^HTTP\/1\.1 400 [\s\S]*HTTP\/1\.1 200 [\s\S]*\{"ok":true\}$/);
  });

  it("HEAD gets the JSON error's headers and no body", async () => {
    const answer = await sendRaw(baseUrl, 'HEAD /admin/api/health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(answer.status).toBe(401);
    expect(answer.headers['content-type']).toMatch(/^application\/json/);
    expect(answer.body).toBe('');
  });
});
