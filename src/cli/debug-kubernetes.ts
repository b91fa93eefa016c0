import { parseArgs } from 'node:util';
import { KubernetesWorkerDiscovery } from '../discovery/kubernetes.js';
import { kubernetesVariables } from '../discovery/kubernetes-settings.js';
import { workerAddress } from '../discovery/worker.js';
import { ConfigError } from '../errors.js';
import { explainNoWorkers } from './explain.js';
import { cliLogger, logLevelHelp } from './logger.js';
import { ExitCode, type CliIo } from './io.js';

/** Help text for `lakerunner debug kubernetes-discovery`. */
export const debugKubernetesHelp = `Usage: lakerunner debug kubernetes-discovery [flags]

Lists the query workers that Kubernetes discovery sees, the way a coordinator would,
and explains an empty result. It only lists workers; it never contacts them.

Flags (each defaults to its environment variable):
  --pod-namespace=NS              namespace of the workers' EndpointSlices (POD_NAMESPACE)
  --worker-pod-label-selector=SEL label selector for the EndpointSlices
                                  (WORKER_POD_LABEL_SELECTOR), e.g. app=lakerunner
  --query-worker-port=PORT        port the workers answer on (QUERY_WORKER_PORT), 1-65535
  --output=text|json              report format (default text)
${logLevelHelp}  -h, --help                      show this help

Cluster access: the kubeconfig named by KUBECONFIG (or ~/.kube/config), else the pod's
in-cluster service account.

Exit status:
  0  workers found
  1  the cluster could not be asked (credentials, permissions, network)
  2  bad flags or configuration
  3  discovery worked but found no workers
`;

const flagNames = {
  namespace: '--pod-namespace',
  labelSelector: '--worker-pod-label-selector',
  port: '--query-worker-port',
};

/**
 * `lakerunner debug kubernetes-discovery`: prints the settings, then the workers found.
 * Returns the exit status.
 */
export async function debugKubernetesDiscovery(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'pod-namespace': { type: 'string' },
      'worker-pod-label-selector': { type: 'string' },
      'query-worker-port': { type: 'string' },
      output: { type: 'string', default: 'text' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout(debugKubernetesHelp);
    return ExitCode.ok;
  }
  if (values.output !== 'text' && values.output !== 'json') {
    throw new ConfigError('--output', `--output is ${JSON.stringify(values.output)}: ` +
      'expected "text" or "json"');
  }

  const logger = cliLogger(values['log-level'], io);
  const discovery = new KubernetesWorkerDiscovery({
    env: io.env,
    logger,
    namespace: values['pod-namespace'],
    labelSelector: values['worker-pod-label-selector'],
    port: values['query-worker-port'],
    settingNames: flagNames,
  });
  const { settings } = discovery;

  if (values.output === 'text') {
    io.stdout(
      [
        'Debugging Kubernetes worker discovery...',
        `${kubernetesVariables.namespace}: ${settings.namespace}`,
        `${kubernetesVariables.labelSelector}: ${settings.labelSelector.text}`,
        `${kubernetesVariables.port}: ${settings.port}`,
        '',
        'Discovering workers...',
        '',
      ].join('\n'),
    );
  }

  const { workers, report } = await discovery.inspect({ signal: io.signal });

  if (values.output === 'json') {
    const result = {
      source: 'kubernetes',
      namespace: settings.namespace,
      labelSelector: settings.labelSelector.text,
      port: settings.port,
      server: discovery.server,
      workers,
      report,
    };
    io.stdout(`${JSON.stringify(result, null, 2)}\n`);
    return workers.length > 0 ? ExitCode.ok : ExitCode.noWorkers;
  }

  const lines = [`Found ${workers.length} workers:`];
  workers.forEach((worker, index) => lines.push(`  [${index + 1}] ${workerAddress(worker)}`));
  if (workers.length === 0) lines.push('', ...explainNoWorkers(settings, report));
  io.stdout(`${lines.join('\n')}\n`);
  return workers.length > 0 ? ExitCode.ok : ExitCode.noWorkers;
}
