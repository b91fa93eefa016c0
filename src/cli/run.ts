import { ConfigError, DiscoveryError, LakerunnerError } from '../errors.js';
import { debugDiscovery } from './debug-discovery.js';
import { debugEcsDiscovery } from './debug-ecs.js';
import { debugKubernetesDiscovery } from './debug-kubernetes.js';
import { ExitCode, type CliIo } from './io.js';
import { readFileSync } from 'node:fs';

type Command = (args: string[], io: CliIo) => Promise<number>;

/** Debug commands by name; a new command is a new file and one line here. */
const debugCommands: Record<string, Command> = {
  'kubernetes-discovery': debugKubernetesDiscovery,
  'ecs-discovery': debugEcsDiscovery,
  discovery: debugDiscovery,
};

/** Top-level help for `lakerunner`. */
export const mainHelp = `Usage: lakerunner <command> [flags]

Commands:
  debug kubernetes-discovery   list the workers Kubernetes discovery sees, and explain none
  debug ecs-discovery          list the workers ECS discovery sees, and explain none
  debug discovery              the same for the source EXECUTION_ENVIRONMENT selects

Run "lakerunner debug <command> --help" for a command's flags;
"lakerunner --version" prints the version.

Exit status:
  0  success
  1  discovery failed (cluster credentials, permissions, network)
  2  bad flags or configuration (including a missing optional package, or too old a Node)
  3  discovery worked but found no workers
`;

/**
 * Runs the CLI with the given arguments (without `node` and the script) and returns the exit
 * status. Results go to `io.stdout`, errors to `io.stderr`.
 *
 * @example
 * ```ts
 * const status = await runCli(['debug', 'kubernetes-discovery', '--help'], processIo());
 * ```
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [group, name, ...rest] = argv;

  if (group === undefined) {
    io.stderr(mainHelp);
    return ExitCode.usage;
  }
  if (group === '--help' || group === '-h' || group === 'help') {
    io.stdout(mainHelp);
    return ExitCode.ok;
  }
  if (group === '--version' || group === '-v') {
    io.stdout(`${packageVersion()}\n`);
    return ExitCode.ok;
  }

  const command = group === 'debug' && name !== undefined ? debugCommands[name] : undefined;
  if (command === undefined) {
    const known = Object.keys(debugCommands).map((key) => `debug ${key}`).join(', ');
    io.stderr(`error: unknown command "${[group, name].filter(Boolean).join(' ')}"; ` +
      `known commands: ${known}\n\n${mainHelp}`);
    return ExitCode.usage;
  }

  try {
    return await command(rest, io);
  } catch (error) {
    return reportError(error, io);
  }
}

function reportError(error: unknown, io: CliIo): number {
  if (error instanceof ConfigError) {
    io.stderr(`error: ${error.message}\n`);
    return ExitCode.usage;
  }
  if (isParseArgsError(error)) {
    io.stderr(`error: ${(error as Error).message}\nRun with --help to see the flags.\n`);
    return ExitCode.usage;
  }
  if (error instanceof DiscoveryError && error.reason === 'config') {
    // Something to install or set up locally, such as a missing optional package.
    io.stderr(`error: ${error.message}\n`);
    return ExitCode.usage;
  }
  if (error instanceof DiscoveryError || error instanceof LakerunnerError) {
    io.stderr(`error: ${error.message}\n`);
    return ExitCode.discoveryFailed;
  }
  const detail = error instanceof Error ? error.stack : String(error);
  io.stderr(`error: unexpected failure: ${detail}\n`);
  return ExitCode.discoveryFailed;
}

function isParseArgsError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

/** The package's own version, read from its package.json next to `dist/`. */
function packageVersion(): string {
  const manifest = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}
