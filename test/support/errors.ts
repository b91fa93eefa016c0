import { ConfigError } from '../../src/errors.js';

/** The ConfigError that `run` throws; any other error goes on, and no error fails. */
export function configErrorOf(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}
