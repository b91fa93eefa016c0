#!/usr/bin/env node
// Checked before anything else loads: on an older Node, undici and the Kubernetes client fail
// at import time with errors that say nothing about the version.
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(
    `error: lakerunner needs Node.js 22.19 or newer (22 or 24 LTS); this is ` +
      `${process.versions.node}. Run it with a newer node, for example through npx node.\n`,
  );
  process.exit(2);
}

const { processIo } = await import('./io.js');
const { runCli } = await import('./run.js');

const controller = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => controller.abort(new Error(`received ${signal}`)));
}

process.exitCode = await runCli(process.argv.slice(2), processIo(controller.signal));
