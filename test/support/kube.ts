import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import type { Logger } from '../../src/logger.js';
import { endpointSlice, type EndpointSpec } from '../../src/testing/fake-kube-api.js';

export const namespace = 'cardinalhq-datalake';
export const labels = {
  'app.kubernetes.io/instance': 'lakerunner',
  'app.kubernetes.io/component': 'query-worker',
};
export const selector =
  'app.kubernetes.io/instance=lakerunner,app.kubernetes.io/component=query-worker';

/** Watch timings scaled down so that every fault plays out in milliseconds. */
export const fastWatch = {
  watchTimeoutSeconds: 60,
  idleTimeoutMs: 60_000,
  minRetryDelayMs: 10,
  maxRetryDelayMs: 80,
  relistIntervalMs: 600_000,
};

/** A slice of the worker Service with the given endpoints. */
export function workerSlice(name: string, endpoints: EndpointSpec[]) {
  return endpointSlice({ name, namespace, labels, endpoints });
}

/** One log line as a test sees it. */
export interface LogLine {
  readonly level: string;
  readonly message: string | undefined;
  readonly fields: Record<string, unknown>;
}

/** A logger that keeps every line, so tests can read what was said (and what was not). */
export function recordingLogger(): Logger & { lines: LogLine[]; text(): string } {
  const lines: LogLine[] = [];
  const at = (level: string) => (fields: object, message?: string): void => {
    lines.push({ level, message, fields: { ...fields } as Record<string, unknown> });
  };
  return {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    text: () => JSON.stringify(lines),
  };
}

/** Waits for a condition, polling; fails the test if it never holds. */
export async function until(condition: () => boolean, what = 'condition'): Promise<void> {
  for (let i = 0; i < 2_000 && !condition(); i += 1) await sleep(5);
  expect(condition(), what).toBe(true);
}
