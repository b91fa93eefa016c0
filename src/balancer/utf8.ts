/**
 * UTF-8 encoding into a caller-owned buffer, without the `{ read, written }` object that
 * `TextEncoder.encodeInto` returns: pickers encode the key on every pick and must not allocate.
 * Lone surrogates become U+FFFD, as `TextEncoder` does, so both give the same bytes.
 */

/**
 * The most bytes `text` can take in UTF-8: three per UTF-16 code unit.
 *
 * @example
 * ```ts
 * maxUtf8Length('abc'); // 9
 * ```
 */
export function maxUtf8Length(text: string): number {
  return text.length * 3;
}

/**
 * Writes the UTF-8 bytes of `text` into `target` from `offset` and returns the end offset.
 * The caller makes sure `target` has {@link maxUtf8Length} bytes free after `offset`.
 *
 * @example
 * ```ts
 * const buffer = new Uint8Array(maxUtf8Length('héllo'));
 * const end = encodeUtf8Into('héllo', buffer, 0); // 6
 * ```
 */
export function encodeUtf8Into(text: string, target: Uint8Array, offset: number): number {
  const length = text.length;

  // Keys and identities are nearly always ASCII: one byte per unit, no branches per byte.
  let ascii = 0;
  for (; ascii < length; ascii += 1) {
    const code = text.charCodeAt(ascii);
    if (code >= 0x80) break;
    target[offset + ascii] = code;
  }
  if (ascii === length) return offset + length;

  return encodeFrom(text, ascii, target, offset + ascii);
}

/** The general case of {@link encodeUtf8Into}, from unit `start` on. */
function encodeFrom(text: string, start: number, target: Uint8Array, offset: number): number {
  let at = offset;

  for (let i = start; i < text.length; i += 1) {
    let code = text.charCodeAt(i);

    if (code < 0x80) {
      target[at++] = code;
      continue;
    }

    if (code < 0x800) {
      target[at++] = 0xc0 | (code >> 6);
      target[at++] = 0x80 | (code & 0x3f);
      continue;
    }

    if (code >= 0xd800 && code <= 0xdfff) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      const pairs = code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff;
      if (pairs) {
        code = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00);
        i += 1;
        target[at++] = 0xf0 | (code >> 18);
        target[at++] = 0x80 | ((code >> 12) & 0x3f);
        target[at++] = 0x80 | ((code >> 6) & 0x3f);
        target[at++] = 0x80 | (code & 0x3f);
        continue;
      }
      code = 0xfffd;
    }

    target[at++] = 0xe0 | (code >> 12);
    target[at++] = 0x80 | ((code >> 6) & 0x3f);
    target[at++] = 0x80 | (code & 0x3f);
  }

  return at;
}
