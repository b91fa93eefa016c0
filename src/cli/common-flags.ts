import { ConfigError } from '../errors.js';

/** Flags every debug command takes, for `parseArgs`. */
export const commonFlags = {
  output: { type: 'string', default: 'text' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The report formats the debug commands print. */
export type OutputFormat = 'text' | 'json';

/**
 * Checks `--output`.
 *
 * @throws {ConfigError} naming `--output` and the value when it is neither `text` nor `json`.
 */
export function outputFormat(value: string | undefined): OutputFormat {
  if (value === undefined || value === 'text' || value === 'json') return value ?? 'text';
  throw new ConfigError(
    '--output',
    `--output is ${JSON.stringify(value)}: expected "text" or "json"`,
  );
}
