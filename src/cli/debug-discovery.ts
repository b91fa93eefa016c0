import { parseArgs } from 'node:util';
import { parseExecutionEnvironment, type ExecutionEnvironment } from '../discovery/from-env.js';
import {
  DEFAULT_LOCAL_WORKERS,
  splitWorkerList,
  StaticWorkerDiscovery,
} from '../discovery/static.js';
import { workerAddress } from '../discovery/worker.js';
import { ConfigError } from '../errors.js';
import { debugEcsDiscovery } from './debug-ecs.js';
import { debugKubernetesDiscovery } from './debug-kubernetes.js';
import { ExitCode, type CliIo } from './io.js';
import { commonFlags, outputFormat } from './common-flags.js';
import { cliLogger } from './logger.js';

/**
 * Help text for `lakerunner debug discovery`.
 *
 * @example
 * ```ts
 * io.stdout(debugDiscoveryHelp);
 * ```
 */
export const debugDiscoveryHelp = `Usage: lakerunner debug discovery [flags]

Lists the query workers that the discovery chosen by EXECUTION_ENVIRONMENT sees, exactly
as a coordinator started with the same environment would, and explains an empty result.

Flags:
  --execution-environment=ENV   kubernetes, ecs or local (EXECUTION_ENVIRONMENT); required,
                                since guessing could send production traffic to 127.0.0.1
  -h, --help                    show this help

Every other flag belongs to the selected source:
  kubernetes  see "lakerunner debug kubernetes-discovery --help"
  ecs         see "lakerunner debug ecs-discovery --help"
  local       --query-workers=LIST (QUERY_WORKERS, default ${DEFAULT_LOCAL_WORKERS}),
              --output=text|json, --log-level=LEVEL

Exit status:
  0  workers found
  1  discovery failed (credentials, permissions, network)
  2  bad flags or configuration
  3  discovery worked but found no workers
`;

type Command = (args: string[], io: CliIo) => Promise<number>;

const commands: Readonly<Record<ExecutionEnvironment, Command>> = {
  kubernetes: debugKubernetesDiscovery,
  ecs: debugEcsDiscovery,
  local: debugLocalDiscovery,
};

const flag = '--execution-environment';

/**
 * `lakerunner debug discovery`: picks the source from `EXECUTION_ENVIRONMENT` (or
 * `--execution-environment`) and runs that source's debug command with the other flags.
 *
 * @example
 * ```ts
 * const status = await debugDiscovery(['--execution-environment=local'], io);
 * ```
 */
export async function debugDiscovery(args: string[], io: CliIo): Promise<number> {
  const { chosen, rest } = takeExecutionEnvironment(args);
  const wantsHelp = rest.includes('--help') || rest.includes('-h');
  if (wantsHelp && chosen === undefined && !io.env.EXECUTION_ENVIRONMENT?.trim()) {
    io.stdout(debugDiscoveryHelp);
    return ExitCode.ok;
  }

  const kind = chosen === undefined
    ? parseExecutionEnvironment(io.env.EXECUTION_ENVIRONMENT)
    : parseExecutionEnvironment(chosen, flag);
  return commands[kind](rest, io);
}

/** Removes `--execution-environment=X` or `--execution-environment X` from the arguments. */
function takeExecutionEnvironment(args: string[]): { chosen?: string; rest: string[] } {
  const rest: string[] = [];
  let chosen: string | undefined;

  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index] ?? '';
    if (arg.startsWith(`${flag}=`)) {
      chosen = arg.slice(flag.length + 1);
    } else if (arg === flag) {
      chosen = args[index + 1];
      if (chosen === undefined) {
        throw new ConfigError(flag, `${flag} needs a value: one of kubernetes, ecs, local`);
      }
      index += 1;
    } else {
      rest.push(arg);
    }
  }

  return chosen === undefined ? { rest } : { chosen, rest };
}

/**
 * The local source's report: the static list (`QUERY_WORKERS` or `--query-workers`), with
 * host names resolved as a coordinator would.
 */
async function debugLocalDiscovery(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'query-workers': { type: 'string' },
      ...commonFlags,
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout(debugDiscoveryHelp);
    return ExitCode.ok;
  }
  const output = outputFormat(values.output);

  // Validated for parity with the other sources; a static list has nothing to log.
  cliLogger(values['log-level'], io);
  const list = values['query-workers'];
  const discovery = list === undefined
    ? StaticWorkerDiscovery.fromEnv(io.env)
    : new StaticWorkerDiscovery(splitWorkerList(list), { setting: '--query-workers' });
  const shown = list ?? (io.env.QUERY_WORKERS?.trim() || `${DEFAULT_LOCAL_WORKERS} (default)`);

  if (output === 'text') {
    io.stdout(
      ['Debugging local worker discovery...', `QUERY_WORKERS: ${shown}`, '',
        'Discovering workers...', ''].join('\n'),
    );
  }

  const workers = await discovery.getWorkers({ signal: io.signal });
  const found = workers.length > 0 ? ExitCode.ok : ExitCode.noWorkers;
  if (output === 'json') {
    io.stdout(`${JSON.stringify({ source: 'local', workers }, null, 2)}\n`);
    return found;
  }

  const lines = [`Found ${workers.length} workers:`];
  workers.forEach((worker, index) => lines.push(`  [${index + 1}] ${workerAddress(worker)}`));
  if (workers.length === 0) {
    lines.push('', 'No workers found: the host names in QUERY_WORKERS resolved to no address.');
  }
  io.stdout(`${lines.join('\n')}\n`);
  return found;
}
