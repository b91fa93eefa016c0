/**
 * Error codes that mean "the server could not be reached", as Node's sockets and DNS report
 * them; shared by every discovery source so that they agree on what counts as unreachable.
 */
export const unreachableCodes: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);
