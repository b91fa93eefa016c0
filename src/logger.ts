/**
 * The logging surface this package uses: any pino-compatible logger fits (pino itself,
 * or anything with the same four methods taking a fields object first).
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * const cache = new WorkerCache(discovery, { logger: pino() });
 * ```
 */
export interface Logger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

const ignore = (): void => undefined;

/**
 * The default: the library logs nothing unless the user hands it a logger.
 *
 * @example
 * ```ts
 * const logger = process.env.DEBUG === undefined ? silentLogger : pino();
 * const cache = new WorkerCache(discovery, { logger });
 * ```
 */
export const silentLogger: Logger = Object.freeze({
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ignore,
});
