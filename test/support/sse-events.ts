/**
 * Parses a `text/event-stream` body as the openai SDK reads it: events separated by a blank line,
 * `event:` names, `data:` lines joined by newlines (JSON-parsed when they are JSON), comment lines
 * (`:` first, e.g. keep-alives) kept apart. For tests of the fake upstream and of the gateway's streams.
 */

/** One SSE event: its `event:` name (null when absent) and its data (parsed JSON, or the raw text). */
export interface SseMessage {
  event: string | null;
  data: unknown;
}

/** Every event and comment of an SSE body, in order. A trailing event without its blank line is dropped (it was cut). */
export function parseSse(text: string): { events: SseMessage[]; comments: string[] } {
  const events: SseMessage[] = [];
  const comments: string[] = [];
  const blocks = text.replace(/\r\n?/g, '\n').split('\n\n');
  blocks.pop(); // after the last blank line: empty, or an unfinished event
  for (const block of blocks) {
    let event: string | null = null;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) comments.push(line.slice(1).trim());
      else if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (data.length > 0) events.push({ event, data: parseData(data.join('\n')) });
  }
  return { events, comments };
}

function parseData(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
