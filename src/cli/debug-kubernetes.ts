import { parseArgs } from 'node:util';
import {
  KubernetesWorkerDiscovery,
  compatibilityVariable,
  selectorTargetVariable,
  type KubernetesInspection,
  type SelectorTarget,
} from '../discovery/kubernetes.js';
import { kubernetesVariables } from '../discovery/kubernetes-settings.js';
import { workerAddress } from '../discovery/worker.js';
import { ConfigError, DiscoveryError } from '../errors.js';
import { addressPolicyFlags, addressPolicyFromFlags, addressPolicyHelp } from './address-flags.js';
import { explainNoWorkers, rbacRoleSnippet } from './explain.js';
import { commonFlags, outputFormat } from './common-flags.js';
import { cliLogger, logLevelHelp } from './logger.js';
import { watchChanges, watchHelp } from './watch-changes.js';
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
  --selector-target=WHAT          what the selector matches (WORKER_SELECTOR_TARGET):
                                  endpointslices (default; slices carry their Service's
                                  labels) or services (Services' labels, then their slices)
${addressPolicyHelp}  --output=text|json              report format (default text)
${watchHelp}${logLevelHelp}  -h, --help                      show this help

Cluster access: the kubeconfig named by KUBECONFIG (or ~/.kube/config), else the pod's
in-cluster service account. LAKERUNNER_DISCOVERY_COMPAT=lakerunner-go lists the worker set
lakerunner's Go coordinators build (Services by label, absent ready is not ready).

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
      'selector-target': { type: 'string' },
      ...commonFlags,
      watch: { type: 'boolean' },
      ...addressPolicyFlags,
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout(debugKubernetesHelp);
    return ExitCode.ok;
  }
  const output = outputFormat(values.output);

  const logger = cliLogger(values['log-level'], io);
  const discovery = new KubernetesWorkerDiscovery({
    env: io.env,
    logger,
    namespace: values['pod-namespace'],
    labelSelector: values['worker-pod-label-selector'],
    port: values['query-worker-port'],
    selectorTarget: selectorTargetFlag(values['selector-target']),
    settingNames: flagNames,
    addressPolicy: addressPolicyFromFlags(values, io.env),
  });
  const { settings } = discovery;

  if (output === 'text') {
    // The default mode keeps the report's long-standing exact shape; the other mode says so
    // on a line of its own, and the empty-result checklist always names the mode.
    const modeLine = discovery.selectorTarget === 'endpointslices'
      ? []
      : [`${selectorTargetVariable}: ${discovery.selectorTarget}`];
    if (discovery.compatibility !== undefined) {
      modeLine.push(`${compatibilityVariable}: ${discovery.compatibility}`);
    }
    io.stdout(
      [
        'Debugging Kubernetes worker discovery...',
        `${kubernetesVariables.namespace}: ${settings.namespace}`,
        `${kubernetesVariables.labelSelector}: ${settings.labelSelector.text}`,
        `${kubernetesVariables.port}: ${settings.port}`,
        ...modeLine,
        '',
        'Discovering workers...',
        '',
      ].join('\n'),
    );
  }

  const { workers, report } = await inspectOrExplain(discovery, io);

  if (output === 'json') {
    const result = {
      source: 'kubernetes',
      namespace: settings.namespace,
      labelSelector: settings.labelSelector.text,
      port: settings.port,
      selectorTarget: discovery.selectorTarget,
      ...(discovery.compatibility === undefined ? {} : { compatibility: discovery.compatibility }),
      server: discovery.server,
      addressPolicy: discovery.addressPolicy,
      workers,
      report,
    };
    io.stdout(`${JSON.stringify(result, null, values.watch ? undefined : 2)}\n`);
    if (values.watch) {
      await watchChanges(discovery, workers, io, { json: true, logger });
      return ExitCode.ok;
    }
    return workers.length > 0 ? ExitCode.ok : ExitCode.noWorkers;
  }

  const lines = [`Found ${workers.length} workers:`];
  workers.forEach((worker, index) => lines.push(`  [${index + 1}] ${workerAddress(worker)}`));
  if (workers.length === 0) {
    const matchingServices = await discovery.matchingServices(io.signal).then(
      ({ names }) => names,
      () => undefined,
    );
    const context = {
      selectorTarget: discovery.selectorTarget,
      matchingServices,
      addressPolicy: discovery.addressPolicy,
    };
    lines.push('', ...explainNoWorkers(settings, report, context));
  }
  io.stdout(`${lines.join('\n')}\n`);
  if (values.watch) {
    await watchChanges(discovery, workers, io, { json: false, logger });
    return ExitCode.ok;
  }
  return workers.length > 0 ? ExitCode.ok : ExitCode.noWorkers;
}

/** Inspects; on a 403, prints the Role that would allow it before the error is reported. */
async function inspectOrExplain(
  discovery: KubernetesWorkerDiscovery,
  io: CliIo,
): Promise<KubernetesInspection> {
  try {
    return await discovery.inspect({ signal: io.signal });
  } catch (error) {
    if (error instanceof DiscoveryError && error.reason === 'forbidden') {
      const role = rbacRoleSnippet(discovery.settings.namespace, discovery.selectorTarget);
      io.stderr(`A Role that grants what discovery needs (bind it to the service account):\n` +
        `${role.join('\n')}\n`);
    }
    throw error;
  }
}

function selectorTargetFlag(value: string | undefined): SelectorTarget | undefined {
  if (value === undefined || value === 'endpointslices' || value === 'services') return value;
  throw new ConfigError(
    '--selector-target',
    `--selector-target is ${JSON.stringify(value)}: expected "endpointslices" or "services"`,
  );
}
