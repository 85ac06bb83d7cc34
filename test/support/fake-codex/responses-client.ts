/**
 * A direct client of the fake's `POST /responses` for the fake's own tests: a Codex Responses request body
 * builder, and a POST that reads the SSE body with arrival times and keeps a mid-body error.
 */
import { request, type Dispatcher } from 'undici';
import { makeCodexJwt } from '../jwt.js';
import { parseSse, type SseMessage } from '../sse-events.js';

/** The identity headers the fake requires. */
export const CODEX_REQUEST_HEADERS = {
  'user-agent': 'codex_cli_rs/0.142.0',
  originator: 'codex_cli_rs',
  'content-type': 'application/json',
  accept: 'text/event-stream',
} as const;

/** A Codex Responses request: `tool` is merged into the image_generation tool, `over` into the top level. */
export function buildResponsesBody(opts: { prompt?: string; tool?: Record<string, unknown>; over?: Record<string, unknown> } = {}): Record<string, unknown> {
  return {
    model: 'gpt-5.4-mini',
    instructions: '',
    input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: opts.prompt ?? 'a red fox' }] }],
    tools: [
      {
        type: 'image_generation',
        action: 'generate',
        model: 'gpt-image-2',
        size: '1024x1024',
        quality: 'high',
        background: 'auto',
        output_format: 'png',
        ...opts.tool,
      },
    ],
    tool_choice: { type: 'image_generation' },
    parallel_tool_calls: true,
    reasoning: { effort: 'medium', summary: 'auto' },
    include: ['reasoning.encrypted_content'],
    store: false,
    stream: true,
    ...opts.over,
  };
}

export interface ResponsesPostOptions {
  dispatcher: Dispatcher;
  account?: string;
  /** A bearer token; null sends none. Default: a JWT of `account` (default 'acct-a'). */
  token?: string | null;
  headers?: Record<string, string>;
  /** A string is sent as is. Default buildResponsesBody(). */
  body?: unknown;
  signal?: AbortSignal;
  /** Called with each body chunk as it arrives (e.g. to abort mid-stream). */
  onChunk?: (text: string) => void;
}

export interface ResponsesAnswer {
  status: number;
  headers: Record<string, unknown>;
  headersAtMs: number;
  /** Body chunks with their arrival time (Date.now()). */
  chunks: { atMs: number; text: string }[];
  text: string;
  events: SseMessage[];
  /** The error that ended the body early (a cut connection, an abort), else null. */
  error: unknown;
}

/** POSTs to `{url}/backend-api/codex/responses` and reads the whole answer, never throwing after the headers. */
export async function postResponses(url: string, opts: ResponsesPostOptions): Promise<ResponsesAnswer> {
  const token = opts.token === undefined ? makeCodexJwt({ accountId: opts.account ?? 'acct-a' }) : opts.token;
  const res = await request(`${url}/backend-api/codex/responses`, {
    dispatcher: opts.dispatcher,
    method: 'POST',
    headers: { ...CODEX_REQUEST_HEADERS, ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...opts.headers },
    body: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body ?? buildResponsesBody()),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  const headersAtMs = Date.now();
  const chunks: ResponsesAnswer['chunks'] = [];
  let error: unknown = null;
  try {
    for await (const chunk of res.body) {
      const text = (chunk as Buffer).toString();
      chunks.push({ atMs: Date.now(), text });
      opts.onChunk?.(text);
    }
  } catch (err) {
    error = err;
  }
  const text = chunks.map((c) => c.text).join('');
  return { status: res.statusCode, headers: res.headers, headersAtMs, chunks, text, events: parseSse(text).events, error };
}
