import { parseArgs } from 'node:util';
import { addressPolicyFlags, addressPolicyFromFlags, addressPolicyHelp } from './address-flags.js';
import { parsePort, parsePositiveInteger } from '../config.js';
import { EcsWorkerDiscovery, type EcsDiscoveryReport } from '../discovery/ecs.js';
import { ecsOptionsFromEnv, type EcsSettingBlame } from '../discovery/ecs-settings.js';
import { workerAddress } from '../discovery/worker.js';
import { ExitCode, type CliIo } from './io.js';
import { commonFlags, outputFormat } from './common-flags.js';
import { cliLogger, logLevelHelp } from './logger.js';

/**
 * Help text for `lakerunner debug ecs-discovery`.
 *
 * @example
 * ```ts
 * io.stdout(debugEcsHelp);
 * ```
 */
export const debugEcsHelp = `Usage: lakerunner debug ecs-discovery [flags]

Lists the query workers that ECS discovery sees, the way a coordinator would,
and explains an empty result. It only lists workers; it never contacts them.

Flags (each defaults to its environment variable):
  --ecs-worker-cluster-name=NAME  cluster name or ARN (ECS_WORKER_CLUSTER_NAME,
                                  or QUERY_WORKER_CLUSTER_NAME)
  --ecs-worker-service-name=NAME  the workers' service (ECS_WORKER_SERVICE_NAME,
                                  or QUERY_WORKER_SERVICE_NAME)
  --query-worker-port=PORT        port the workers answer on (QUERY_WORKER_PORT),
                                  1-65535, default 8081
  --worker-poll-interval-seconds=N
                                  how often a coordinator re-lists
                                  (WORKER_POLL_INTERVAL_SECONDS), default 10
  --region=REGION                 AWS region (AWS_REGION, AWS_DEFAULT_REGION)
  --endpoint-url=URL              ECS endpoint override (AWS_ENDPOINT_URL_ECS,
                                  AWS_ENDPOINT_URL)
${addressPolicyHelp}  --output=text|json              report format (default text)
${logLevelHelp}  -h, --help                      show this help

AWS access: the SDK's standard credential chain (environment keys, AWS_PROFILE and
shared config, the ECS task role). Needs ecs:ListTasks and ecs:DescribeTasks, and the
optional package @aws-sdk/client-ecs.

Exit status:
  0  workers found
  1  ECS could not be asked (credentials, permissions, throttling, network)
  2  bad flags or configuration
  3  discovery worked but found no workers
`;

const flagNames: EcsSettingBlame = {
  cluster: '--ecs-worker-cluster-name',
  service: '--ecs-worker-service-name',
  port: '--query-worker-port',
  refreshIntervalMs: '--worker-poll-interval-seconds',
  region: '--region',
  endpoint: '--endpoint-url',
};

/**
 * `lakerunner debug ecs-discovery`: prints the settings, then the workers found, and a
 * checklist when there are none. Returns the exit status.
 *
 * @example
 * ```ts
 * const status = await debugEcsDiscovery(['--ecs-worker-cluster-name=lakerunner'], io);
 * ```
 */
export async function debugEcsDiscovery(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      'ecs-worker-cluster-name': { type: 'string' },
      'ecs-worker-service-name': { type: 'string' },
      'query-worker-port': { type: 'string' },
      'worker-poll-interval-seconds': { type: 'string' },
      region: { type: 'string' },
      'endpoint-url': { type: 'string' },
      ...commonFlags,
      ...addressPolicyFlags,
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    io.stdout(debugEcsHelp);
    return ExitCode.ok;
  }
  const output = outputFormat(values.output);

  const logger = cliLogger(values['log-level'], io);
  const port = values['query-worker-port'];
  const poll = values['worker-poll-interval-seconds'];
  const options = ecsOptionsFromEnv(io.env, {
    cluster: values['ecs-worker-cluster-name'],
    service: values['ecs-worker-service-name'],
    port: port === undefined ? undefined : parsePort({ name: '--query-worker-port', value: port }),
    refreshIntervalMs: poll === undefined ? undefined : 1000 * parsePositiveInteger(
      { name: '--worker-poll-interval-seconds', value: poll },
      'seconds',
    ),
    region: values.region,
    endpoint: values['endpoint-url'],
    addressPolicy: addressPolicyFromFlags(values, io.env),
    logger,
  }, flagNames);
  const discovery = new EcsWorkerDiscovery(options);

  try {
    return await report(discovery, options, output, io);
  } finally {
    await discovery.close();
  }
}

async function report(
  discovery: EcsWorkerDiscovery,
  options: { region?: string | undefined; endpoint?: string | undefined },
  output: 'text' | 'json',
  io: CliIo,
): Promise<number> {
  const region = options.region ?? '(from the AWS config)';
  const endpoint = options.endpoint ?? '(the AWS endpoint for the region)';
  if (output === 'text') {
    io.stdout(
      [
        'Debugging ECS worker discovery...',
        `ECS_WORKER_CLUSTER_NAME: ${discovery.cluster}`,
        `ECS_WORKER_SERVICE_NAME: ${discovery.service}`,
        `QUERY_WORKER_PORT: ${discovery.port}`,
        `WORKER_POLL_INTERVAL_SECONDS: ${discovery.refreshIntervalMs / 1000}`,
        `AWS_REGION: ${region}`,
        `ECS endpoint: ${endpoint}`,
        '',
        'Discovering workers...',
        '',
      ].join('\n'),
    );
  }

  const workers = await discovery.getWorkers({ signal: io.signal });
  const found = workers.length > 0 ? ExitCode.ok : ExitCode.noWorkers;
  const seen = discovery.lastReport();

  if (output === 'json') {
    const result = {
      source: 'ecs',
      cluster: discovery.cluster,
      service: discovery.service,
      port: discovery.port,
      region: options.region,
      endpoint: options.endpoint,
      workers,
      report: seen,
    };
    io.stdout(`${JSON.stringify(result, null, 2)}\n`);
    return found;
  }

  const lines = [`Found ${workers.length} workers:`];
  workers.forEach((worker, index) => lines.push(`  [${index + 1}] ${workerAddress(worker)}`));
  if (workers.length === 0 && seen) lines.push('', ...explainNoEcsWorkers(seen));
  io.stdout(`${lines.join('\n')}\n`);
  return found;
}

function refusalText(report: EcsDiscoveryReport): string {
  const reasons = Object.entries(report.refusals).map(([reason, count]) => `${count} ${reason}`);
  return reasons.length > 0 ? ` (${reasons.join(', ')})` : '';
}

/**
 * The checklist printed when ECS discovery finds no workers: each usual cause with what the
 * lookup saw that bears on it, so the reader can rule causes out at a glance.
 *
 * @example
 * ```ts
 * const report = discovery.lastReport();
 * if (report) console.log(explainNoEcsWorkers(report).join('\n'));
 * ```
 */
export function explainNoEcsWorkers(report: EcsDiscoveryReport): string[] {
  const { cluster, service, skipped } = report;
  const starting = Object.entries(report.byLastStatus)
    .filter(([status]) => status !== 'RUNNING')
    .map(([status, count]) => `${count} ${status}`)
    .join(', ');

  const causes = [
    `Service: ${report.listedTasks} task(s) of service "${service}" in cluster "${cluster}" ` +
      'have desired status RUNNING. If none, check the service name and its desired count: ' +
      `aws ecs describe-services --cluster ${cluster} --services ${service}`,
    `Starting or stopping: only RUNNING tasks become workers (${starting || 'none other'})`,
    `Health: tasks whose health check reports UNHEALTHY are left out (${skipped.unhealthy})`,
    'Network mode: workers need awsvpc networking, where each task has its own private IPv4 ' +
      `(${skipped.noAddress} running task(s) without one)`,
    `Churn: ${report.missingTasks} listed task(s) were gone by the time they were described`,
    `Address policy (${report.addressPolicy}): ${skipped.refusedAddress} task address(es) ` +
      `refused${refusalText(report)}`,
  ];

  return [
    'No workers found. Check, in order:',
    ...causes.map((cause, index) => `  ${index + 1}. ${cause}`),
  ];
}
