import { pino } from 'pino';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { CliIo } from './io.js';

const levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** The `--log-level` flag's description, shared by every command's help. */
export const logLevelHelp =
  '  --log-level=LEVEL               stderr log level: trace, debug, info, warn (default),\n' +
  '                                  error, fatal or silent\n';

/**
 * The CLI's logger: pino writing JSON lines to stderr, so that stdout carries only the report.
 *
 * @throws {ConfigError} naming `--log-level` when the level is unknown.
 */
export function cliLogger(level: string | undefined, io: CliIo): Logger {
  const chosen = level ?? 'warn';
  if (!levels.includes(chosen)) {
    throw new ConfigError(
      '--log-level',
      `--log-level is ${JSON.stringify(chosen)}: expected one of ${levels.join(', ')}`,
    );
  }
  return pino({ level: chosen, base: null }, { write: (line: string) => io.stderr(line) });
}
