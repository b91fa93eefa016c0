/**
 * The child-process side of {@link spawnFakeWorker}: starts a {@link FakeWorker} from the JSON
 * options in argv[2], prints `{"port":N}` on stdout, then obeys JSON lines on stdin
 * (`{"mode":"hang"}`, `{"latencyMs":5}`). It exits when stdin closes, so an orphan never
 * outlives its parent.
 */
import { createInterface } from 'node:readline';
import { FakeWorker, type FakeWorkerMode, type FakeWorkerOptions } from './fake-worker.js';

interface Command {
  readonly mode?: FakeWorkerMode;
  readonly latencyMs?: number;
  readonly retryAfterSeconds?: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as FakeWorkerOptions;
const fake = await FakeWorker.start(options);
process.stdout.write(`${JSON.stringify({ port: fake.port, name: fake.name })}\n`);

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const command = JSON.parse(line) as Command;
  if (command.mode !== undefined) {
    fake.setMode(command.mode, {
      latencyMs: command.latencyMs,
      retryAfterSeconds: command.retryAfterSeconds,
    });
  } else if (command.latencyMs !== undefined) {
    fake.setLatency(command.latencyMs);
  }
});
lines.on('close', () => {
  void fake.stop().then(() => process.exit(0));
});
