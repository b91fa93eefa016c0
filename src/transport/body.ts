import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { BodyTooLargeError } from './errors.js';

// Reading a worker's whole answer into memory, with a hard limit on its size.

/**
 * Reads a whole response body within `maxBytes`. With a declared length, the limit is checked
 * up front and undici's own reader is used (it fails on a short body); without one, chunks
 * are counted as they come.
 */
export async function readWhole(
  response: Dispatcher.ResponseData,
  maxBytes: number,
): Promise<Uint8Array> {
  const declared = Number(response.headers['content-length'] ?? Number.NaN);
  if (Number.isNaN(declared)) return readBody(response.body, maxBytes);

  if (declared > maxBytes) {
    response.body.destroy();
    throw new BodyTooLargeError(maxBytes);
  }
  return response.body.bytes();
}

/**
 * Reads a whole body, stopping (and failing) past `maxBytes`, so memory stays bounded. Any
 * stream error, such as a connection lost before the last chunk, rejects: a short body never
 * passes for a whole one.
 */
function readBody(body: Readable, maxBytes: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    body.on('data', (chunk: Buffer) => {
      total += chunk.byteLength;
      if (total <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      const error = new BodyTooLargeError(maxBytes);
      body.destroy(error);
    });
    body.once('error', reject);
    body.once('end', () => {
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total));
    });
  });
}
