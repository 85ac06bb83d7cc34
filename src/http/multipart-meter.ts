import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { MultipartPart } from '../images/parse-image-multipart.js';

/**
 * Charges a chunked multipart body to the body budget as its bytes arrive. @fastify/multipart pipes
 * the raw request into its parser itself, so the bytes are counted by a second `data` listener
 * beside that pipe (both see every chunk). When `charge` throws (the budget is spent), reading stops (the request is
 * unpiped and paused), the file being spooled is destroyed with that error, and the parts iterable
 * throws it, so the parse fails with it and the error handler answers and closes the connection.
 */
export function meterMultipartBody(raw: IncomingMessage, parts: AsyncIterable<MultipartPart>, charge: (bytes: number) => void): AsyncIterable<MultipartPart> {
  let currentFile: Readable | null = null;
  let refuse: (err: unknown) => void = () => undefined;
  const refused = new Promise<never>((_resolve, reject) => {
    refuse = reject;
  });
  refused.catch(() => undefined);
  const onData = (chunk: Buffer) => {
    try {
      charge(chunk.length);
    } catch (err) {
      raw.off('data', onData);
      raw.unpipe();
      raw.pause();
      currentFile?.destroy(err as Error);
      refuse(err);
    }
  };
  return (async function* () {
    const iterator = parts[Symbol.asyncIterator]();
    // The first next() starts the multipart parser, which pipes the request into itself; the
    // listener joins in the same tick, before any chunk can flow.
    let next = iterator.next();
    raw.on('data', onData);
    try {
      for (;;) {
        const result = await Promise.race([next, refused]);
        if (result.done === true) return;
        currentFile = result.value.type === 'file' ? result.value.file : null;
        yield result.value;
        next = iterator.next();
      }
    } finally {
      raw.off('data', onData);
    }
  })();
}
