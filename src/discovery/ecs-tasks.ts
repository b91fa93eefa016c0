import { isIPv4 } from 'node:net';
import type { AddressPolicy, AddressRefusal } from './address-policy.js';
import { compareWorkers, type Worker } from './worker.js';

/**
 * The parts of an ECS task (as DescribeTasks returns it) that decide whether it is a worker.
 * The AWS SDK's `Task` type fits this shape; so does the JSON the ECS API sends.
 *
 * @example
 * ```ts
 * const task: EcsTaskLike = {
 *   taskArn: 'arn:aws:ecs:us-east-1:123456789012:task/lakerunner/0f3c',
 *   lastStatus: 'RUNNING',
 *   healthStatus: 'HEALTHY',
 *   availabilityZone: 'us-east-1a',
 *   attachments: [{
 *     type: 'ElasticNetworkInterface',
 *     details: [{ name: 'privateIPv4Address', value: '10.0.1.7' }],
 *   }],
 * };
 * ```
 */
export interface EcsTaskLike {
  readonly taskArn?: string | undefined;
  readonly lastStatus?: string | undefined;
  readonly desiredStatus?: string | undefined;
  readonly healthStatus?: string | undefined;
  readonly availabilityZone?: string | undefined;
  readonly attachments?:
    | readonly {
        readonly type?: string | undefined;
        readonly details?:
          | readonly { readonly name?: string | undefined; readonly value?: string | undefined }[]
          | undefined;
      }[]
    | undefined;
}

/**
 * Why tasks were left out, so an empty or short worker list can be explained.
 *
 * @example
 * ```ts
 * const { skipped } = workersFromEcsTasks(tasks, 8081);
 * if (skipped.noAddress > 0) console.warn(`${skipped.noAddress} tasks have no private IPv4`);
 * ```
 */
export interface EcsSkippedTasks {
  /** Tasks whose `lastStatus` is not RUNNING (still starting, or stopping). */
  readonly notRunning: number;
  /** Running tasks whose container health check reports UNHEALTHY. */
  readonly unhealthy: number;
  /**
   * Running, not unhealthy tasks without a private IPv4 address in an ENI attachment: tasks
   * not in `awsvpc` network mode, or in IPv6-only subnets.
   */
  readonly noAddress: number;
  /**
   * Running, not unhealthy tasks whose address the address policy refused (loopback,
   * link-local such as 169.254.169.254, outside the allowed CIDRs, ...).
   */
  readonly refusedAddress: number;
  /** Tasks without a `taskArn`, or listed twice. */
  readonly malformed: number;
}

/**
 * The workers found in a set of ECS tasks, and what was left out.
 *
 * @example
 * ```ts
 * const selection: EcsWorkerSelection = workersFromEcsTasks(tasks, 8081);
 * console.log(selection.workers.length, selection.byLastStatus);
 * ```
 */
export interface EcsWorkerSelection {
  /** One worker per usable task, sorted with `compareWorkers`. */
  readonly workers: Worker[];
  /** Counts of the tasks left out, by reason. */
  readonly skipped: EcsSkippedTasks;
  /** How many tasks were in each `lastStatus` (PROVISIONING, PENDING, RUNNING, ...). */
  readonly byLastStatus: Readonly<Record<string, number>>;
  /** Refused addresses by reason, so a report can say why. */
  readonly refusals: Readonly<Partial<Record<AddressRefusal, number>>>;
  /** Each refused address with its reason, for one log line per address. */
  readonly refused: ReadonlyMap<string, AddressRefusal>;
}

/** The ENI attachment detail that holds the task's private IPv4 address. */
const privateIPv4Detail = 'privateIPv4Address';

/**
 * Turns described ECS tasks into workers; no I/O.
 *
 * A task becomes a worker when its `lastStatus` is RUNNING and its `healthStatus` is not
 * UNHEALTHY (UNKNOWN passes, since tasks without a health check always report it). The
 * address is the `privateIPv4Address` of the task's ENI attachment (`awsvpc` network mode);
 * the task ARN is the worker id, so a worker keeps its hash keys for its whole life. A task
 * still RUNNING whose `desiredStatus` is STOPPED is shutting down and becomes `draining`.
 *
 * Whoever can start tasks in the service decides where fragments go, so addresses are checked
 * against `policy` (see `createAddressPolicy`) when one is given; refused ones are counted.
 *
 * @param port - The port every worker task listens on (`QUERY_WORKER_PORT`).
 * @param policy - Which addresses may become workers; none checks nothing.
 *
 * @example
 * ```ts
 * const policy = createAddressPolicy();
 * const { workers, skipped } = workersFromEcsTasks(response.tasks ?? [], 8081, policy);
 * ```
 */
export function workersFromEcsTasks(
  tasks: readonly EcsTaskLike[],
  port: number,
  policy?: Pick<AddressPolicy, 'check'>,
): EcsWorkerSelection {
  const skipped = { notRunning: 0, unhealthy: 0, noAddress: 0, refusedAddress: 0, malformed: 0 };
  const byLastStatus: Record<string, number> = {};
  const refusals: Partial<Record<AddressRefusal, number>> = {};
  const refused = new Map<string, AddressRefusal>();
  const byArn = new Map<string, Worker>();

  for (const task of tasks) {
    const status = task.lastStatus ?? 'UNKNOWN';
    byLastStatus[status] = (byLastStatus[status] ?? 0) + 1;

    const arn = task.taskArn;
    const ip = privateIPv4Of(task);
    const refusal = ip === undefined ? undefined : policy?.check(ip);
    if (!arn || byArn.has(arn)) skipped.malformed += 1;
    else if (status !== 'RUNNING') skipped.notRunning += 1;
    else if (task.healthStatus === 'UNHEALTHY') skipped.unhealthy += 1;
    else if (ip === undefined) skipped.noAddress += 1;
    else if (refusal !== undefined) {
      skipped.refusedAddress += 1;
      refusals[refusal] = (refusals[refusal] ?? 0) + 1;
      refused.set(ip, refusal);
    } else byArn.set(arn, taskWorker(task, arn, ip, port));
  }

  const workers = [...byArn.values()].sort(compareWorkers);
  return { workers, skipped, byLastStatus, refusals, refused };
}

function taskWorker(task: EcsTaskLike, arn: string, ip: string, port: number): Worker {
  const draining = task.desiredStatus === 'STOPPED';
  return {
    id: arn,
    ip,
    port,
    state: draining ? 'draining' : 'ready',
    zone: task.availabilityZone || undefined,
  };
}

function privateIPv4Of(task: EcsTaskLike): string | undefined {
  for (const attachment of task.attachments ?? []) {
    if (attachment.type !== 'ElasticNetworkInterface') continue;

    const detail = attachment.details?.find((d) => d.name === privateIPv4Detail);
    if (detail?.value !== undefined && isIPv4(detail.value)) return detail.value;
  }

  return undefined;
}
