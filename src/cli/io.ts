/** Where a command writes: results to `stdout`, logs and errors to `stderr`. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborted on SIGINT/SIGTERM, so long-running commands stop cleanly. */
  readonly signal?: AbortSignal | undefined;
}

/** Exit statuses shared by every command; documented in `--help`. */
export const ExitCode = {
  ok: 0,
  /** The cluster or discovery source failed (DiscoveryError). */
  discoveryFailed: 1,
  /** Bad flags or configuration (ConfigError). */
  usage: 2,
  /** Discovery worked but found no workers. */
  noWorkers: 3,
} as const;

/** The process-backed I/O that `bin/lakerunner` uses. */
export function processIo(signal?: AbortSignal): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    signal,
  };
}
