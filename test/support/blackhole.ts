import { connect, type Socket } from 'node:net';
import { Worker as Thread } from 'node:worker_threads';

/** A listener on loopback that takes no connection and answers no new connection attempt. */
export interface Blackhole {
  /** Lets the listener go and frees its port. */
  close(): Promise<void>;
}

// Runs in a thread of its own: once listening, the thread blocks its event loop, so nothing
// ever accepts. The kernel queues the first connections, then drops every later SYN.
const listenerScript = `
const { createServer } = require('node:net');
const { parentPort, workerData } = require('node:worker_threads');
const server = createServer((socket) => socket.destroy());
server.listen({ host: workerData.host, port: workerData.port, backlog: 1 }, () => {
  parentPort.postMessage('listening');
  Atomics.wait(new Int32Array(workerData.gate), 0, 0);
  server.close();
});
`;

/**
 * Makes `host:port` (loopback only) silently drop connection attempts, as a pod address
 * whose pod is gone does: a listener that never accepts, with its accept queue filled, so
 * the kernel ignores further SYNs and a client's connect hangs until its own timeout.
 */
export async function startBlackhole(host: string, port: number): Promise<Blackhole> {
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) {
    throw new Error(`a blackhole must be on 127.0.0.0/8, got ${host}`);
  }
  const gate = new SharedArrayBuffer(4);
  const thread = new Thread(listenerScript, { eval: true, workerData: { host, port, gate } });
  await new Promise<void>((resolve, reject) => {
    thread.once('message', () => resolve());
    thread.once('error', reject);
  });

  // Fill the accept queue (backlog 1 holds two): these are the only connects that finish.
  const fillers: Socket[] = [];
  let connected = 0;
  for (let i = 0; i < 4; i += 1) {
    const socket = connect(port, host);
    socket.on('connect', () => (connected += 1));
    socket.on('error', () => undefined);
    fillers.push(socket);
  }
  for (let waited = 0; connected < 2; waited += 1) {
    if (waited === 2_000) throw new Error(`the blackhole on ${host}:${port} accepted nothing`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }

  return {
    close: async () => {
      for (const socket of fillers) socket.destroy();
      Atomics.store(new Int32Array(gate), 0, 1);
      Atomics.notify(new Int32Array(gate), 0);
      await thread.terminate();
    },
  };
}
