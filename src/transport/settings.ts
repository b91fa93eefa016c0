import type { Pool } from 'undici';
import { createPicker } from '../balancer/registry.js';
import type { LoadTracker } from '../balancer/load-tracker.js';
import { ConfigError } from '../errors.js';
import type { FragmentDispatcherOptions, PickerPolicy, WorkerTlsOptions } from './options.js';

// Turns the user's FragmentDispatcherOptions into checked settings. Every check runs at the
// edge, in the constructor, so the code that sends fragments can trust what it is given.

const defaults = {
  maxAttempts: 3,
  connectTimeoutMs: 1_500,
  attemptTimeoutMs: 30_000,
  fragmentTimeoutMs: 60_000,
  keepAliveTimeoutMs: 4_000,
  maxBodyBytes: 64 * 1024 * 1024,
  maxInFlight: 256,
  maxPerWorker: 64,
  maxQueued: 4_096,
};

/** The dispatcher's checked limits and timeouts, every default filled in. */
export type Settings = typeof defaults & { whenNoWorkers: 'wait' | 'fail' };

/** Hedging as configured: off when `hedgeAfterMs` is undefined. */
export interface HedgeSettings {
  readonly hedgeAfterMs: number | undefined;
  /** The most hedged copies in flight at once across the dispatcher. */
  readonly maxHedges: number;
}

/** How to build the pool of each worker: undici pool options and the URL scheme. */
export interface PoolSettings {
  readonly options: Pool.Options;
  readonly protocol: 'http:' | 'https:';
}

/** TLS connect options for undici, with certificate verification always on. */
interface TlsConnectOptions {
  ca: (string | Buffer)[];
  cert?: string | Buffer;
  key?: string | Buffer;
  servername?: string;
  rejectUnauthorized: true;
}

/** Returns `value` if it is a positive integer; throws a ConfigError naming `name` if not. */
export function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new ConfigError(name, `option ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/** Returns `value` if it is a finite positive number; throws a ConfigError naming `name`. */
export function positiveNumber(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new ConfigError(name, `option ${name} must be a positive number, got ${value}`);
  }
  return value;
}

/** Turns the `picker` option (a policy name or a function) into a picker builder. */
export function policyOf(options: FragmentDispatcherOptions, tracker: LoadTracker): PickerPolicy {
  const picker = options.picker;
  if (typeof picker === 'function') return picker;
  if (typeof picker !== 'string') {
    throw new ConfigError(
      'picker',
      `option picker must be a policy name or a function, got ${typeof picker}`,
    );
  }

  const pickerOptions = { ...options.pickerOptions, tracker };
  // Built once now, so an unknown name fails here with the list of valid ones.
  createPicker(picker, [], pickerOptions);
  return (workers) => createPicker(picker, workers, pickerOptions);
}

/** The hedging options, checked; `maxInFlight` bounds how many hedges may run at once. */
export function hedgeSettings(
  options: FragmentDispatcherOptions,
  maxInFlight: number,
): HedgeSettings {
  const hedgeAfterMs =
    options.hedgeAfterMs === undefined
      ? undefined
      : positiveNumber('hedgeAfterMs', options.hedgeAfterMs);

  const hedgeShare = options.maxHedgeShare ?? 0.1;
  if (!(hedgeShare >= 0 && hedgeShare <= 1)) {
    throw new ConfigError(
      'maxHedgeShare',
      `option maxHedgeShare must be between 0 and 1, got ${hedgeShare}`,
    );
  }
  return { hedgeAfterMs, maxHedges: Math.max(1, Math.floor(maxInFlight * hedgeShare)) };
}

/** TLS connect options for undici, checked; `undefined` for plain HTTP. */
function validatedTls(
  tls: WorkerTlsOptions | undefined,
): TlsConnectOptions | undefined {
  if (tls === undefined) return undefined;
  const ca = (Array.isArray(tls.ca) ? tls.ca : [tls.ca]) as (string | Buffer)[];
  if (ca.length === 0 || ca.some((pem) => pem.length === 0)) {
    throw new ConfigError('tls.ca', 'option tls.ca is empty: give the PEM certificate of the ' +
      "CA that issued the workers' certificates");
  }
  // Say which half is missing, never what the other half holds.
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    const missing = tls.cert === undefined ? 'tls.cert' : 'tls.key';
    throw new ConfigError(missing, `option ${missing} is missing: a client certificate needs ` +
      'both tls.cert and tls.key');
  }
  if (tls.servername !== undefined && tls.servername.trim() === '') {
    throw new ConfigError('tls.servername', 'option tls.servername is "": give a host name ' +
      "that the workers' certificates list, or leave it out");
  }
  return {
    ca,
    ...(tls.cert === undefined ? {} : { cert: tls.cert }),
    ...(tls.key === undefined ? {} : { key: tls.key }),
    ...(tls.servername === undefined ? {} : { servername: tls.servername }),
    rejectUnauthorized: true,
  };
}

/** The limits and timeouts, checked, with defaults filled in. */
export function validated(options: FragmentDispatcherOptions): Settings {
  const whenNoWorkers = options.whenNoWorkers ?? 'wait';
  if (whenNoWorkers !== 'wait' && whenNoWorkers !== 'fail') {
    throw new ConfigError(
      'whenNoWorkers',
      `option whenNoWorkers must be "wait" or "fail", got ${String(whenNoWorkers)}`,
    );
  }
  return {
    maxAttempts: positiveInteger('maxAttempts', options.maxAttempts ?? defaults.maxAttempts),
    connectTimeoutMs: positiveNumber(
      'connectTimeoutMs',
      options.connectTimeoutMs ?? defaults.connectTimeoutMs,
    ),
    attemptTimeoutMs: positiveNumber(
      'attemptTimeoutMs',
      options.attemptTimeoutMs ?? defaults.attemptTimeoutMs,
    ),
    fragmentTimeoutMs: positiveNumber(
      'fragmentTimeoutMs',
      options.fragmentTimeoutMs ?? defaults.fragmentTimeoutMs,
    ),
    keepAliveTimeoutMs: positiveNumber(
      'keepAliveTimeoutMs',
      options.keepAliveTimeoutMs ?? defaults.keepAliveTimeoutMs,
    ),
    maxBodyBytes: positiveInteger('maxBodyBytes', options.maxBodyBytes ?? defaults.maxBodyBytes),
    maxInFlight: positiveInteger('maxInFlight', options.maxInFlight ?? defaults.maxInFlight),
    maxPerWorker: positiveInteger('maxPerWorker', options.maxPerWorker ?? defaults.maxPerWorker),
    maxQueued: positiveInteger('maxQueued', options.maxQueued ?? defaults.maxQueued),
    whenNoWorkers,
  };
}

/**
 * The options of each worker's undici pool, from the checked settings: keep-alive below the
 * server's, HTTP/2 when asked (h2c without TLS), TLS when configured.
 */
export function poolSettings(
  settings: Settings,
  options: FragmentDispatcherOptions,
): PoolSettings {
  const tls = validatedTls(options.tls);
  return {
    options: {
      connections: settings.maxPerWorker,
      connectTimeout: settings.connectTimeoutMs,
      keepAliveTimeout: settings.keepAliveTimeoutMs,
      keepAliveMaxTimeout: settings.keepAliveTimeoutMs,
      ...(options.allowH2
        ? { allowH2: true, useH2c: tls === undefined, pipelining: 100 }
        : { allowH2: false }),
      ...(tls === undefined ? {} : { connect: tls }),
    },
    protocol: tls === undefined ? 'http:' : 'https:',
  };
}
