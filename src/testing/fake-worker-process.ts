import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { LakerunnerError } from '../errors.js';
import type { Worker } from '../discovery/worker.js';
import type { FakeWorkerMode, FakeWorkerOptions } from './fake-worker.js';

/**
 * The child process could not be started or did not report its port.
 *
 * @example
 * ```ts
 * try { await spawnFakeWorker(); } catch (err) {
 *   if (err instanceof FakeWorkerSpawnError) console.error(err.stderr);
 * }
 * ```
 */
export class FakeWorkerSpawnError extends LakerunnerError {
  /** What the child wrote on stderr before failing. */
  readonly stderr: string;

  constructor(message: string, stderr: string) {
    super('ERR_LAKERUNNER_FAKE_WORKER_SPAWN', `${message}${stderr ? `: ${stderr}` : ''}`);
    this.stderr = stderr;
  }
}

/**
 * A {@link FakeWorker} running in its own process, so it can be killed with SIGKILL.
 *
 * @example
 * ```ts
 * const child: FakeWorkerProcess = await spawnFakeWorker({ name: 'w1' });
 * child.setMode('draining', { retryAfterSeconds: 2 });
 * await child.kill();
 * ```
 */
export interface FakeWorkerProcess {
  readonly name: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** Resolves when the process has exited, with its exit code or signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** A {@link Worker} pointing at the child; `id` defaults to its name. */
  worker(overrides?: Partial<Worker>): Worker;
  /** Changes the child's mode, as {@link FakeWorker.setMode} does. */
  setMode(
    mode: FakeWorkerMode,
    options?: { latencyMs?: number; retryAfterSeconds?: number },
  ): void;
  /** Kills the child (SIGKILL by default) and resolves once it has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Finds the compiled child script. From `dist/` it sits next to this file; when this file runs
 * from source (tests), the compiled copy in `dist/` is used, so `npm run build` must have run.
 */
function childScript(): string {
  const sibling = fileURLToPath(new URL('./fake-worker-main.js', import.meta.url));
  if (existsSync(sibling)) return sibling;

  const built = fileURLToPath(new URL('../../dist/testing/fake-worker-main.js', import.meta.url));
  if (existsSync(built)) return built;
  throw new FakeWorkerSpawnError(
    `cannot find fake-worker-main.js next to ${sibling} or at ${built}; run npm run build`,
    '',
  );
}

/**
 * Starts a {@link FakeWorker} in a child process (with `process.execPath`) on 127.0.0.1 and
 * resolves once it reports its port. The child exits when its parent closes its stdin or
 * dies, and can be killed with SIGKILL to act out a pod that vanishes.
 *
 * @example
 * ```ts
 * const child = await spawnFakeWorker({ name: 'w1', latencyMs: 2 });
 * const worker = child.worker();
 * await child.kill(); // SIGKILL: connections reset, then refused
 * ```
 */
export async function spawnFakeWorker(
  options: FakeWorkerOptions = {},
): Promise<FakeWorkerProcess> {
  const child = spawn(process.execPath, [childScript(), JSON.stringify(options)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    stderr += text;
  });

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve) => child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const hello = await firstLine(child, exited).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw new FakeWorkerSpawnError(`the fake worker process failed: ${String(error)}`, stderr);
  });
  const { port, name } = JSON.parse(hello) as { port: number; name: string };

  return {
    name,
    port,
    child,
    exited,
    worker: (overrides = {}) => ({
      id: name,
      ip: options.host ?? '127.0.0.1',
      port,
      state: 'ready',
      ...overrides,
    }),
    setMode: (mode, modeOptions = {}) => {
      child.stdin.write(`${JSON.stringify({ mode, ...modeOptions })}\n`);
    },
    kill: async (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

function firstLine(
  child: ChildProcess,
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
): Promise<string> {
  const stdout = child.stdout;
  if (!stdout) return Promise.reject(new Error('no stdout pipe'));

  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: stdout });
    lines.once('line', (line) => resolve(line));
    void exited.then(({ code, signal }) =>
      reject(new Error(`exited before reporting its port (code ${code}, signal ${signal})`)),
    );
  });
}
