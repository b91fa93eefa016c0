import { AbortedError, DiscoveryError, type DiscoveryFailure } from '../errors.js';
import { unreachableCodes } from './network-errors.js';

/**
 * What was being asked when an ECS call failed, for the message.
 *
 * @example
 * ```ts
 * const context: EcsCallContext = {
 *   operation: 'ListTasks', cluster: 'lakerunner', service: 'query-worker',
 *   server: undefined, attempt: 1, attempts: 5,
 * };
 * ```
 */
export interface EcsCallContext {
  readonly operation: 'ListTasks' | 'DescribeTasks';
  readonly cluster: string;
  readonly service: string;
  /** The endpoint asked, when known (an override, or the regional AWS host). */
  readonly server: string | undefined;
  readonly attempt: number;
  readonly attempts: number;
}

/** The shape of AWS SDK errors, read defensively: anything may be missing. */
interface SdkErrorLike {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly message?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown } | undefined;
  readonly $fault?: unknown;
}

/** Error names AWS uses for throttling, across services and SDK versions. */
const throttlingNames = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
]);

const unauthorizedNames = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignature',
  'InvalidClientTokenId',
  'ExpiredTokenException',
  'ExpiredToken',
  'CredentialsProviderError',
]);

const forbiddenNames = new Set(['AccessDeniedException', 'AccessDenied', 'UnauthorizedOperation']);

const iamActions = 'ecs:ListTasks and ecs:DescribeTasks';

/**
 * Turns whatever the AWS SDK threw into a {@link DiscoveryError} (or an {@link AbortedError}
 * when the caller's signal fired) whose message says what failed, where, and what to do.
 *
 * The server's own message is kept because it names the denied action and role, but anything
 * shaped like an access key id is masked and it is cut short; credentials never appear.
 *
 * @example
 * ```ts
 * try {
 *   await client.send(command);
 * } catch (err) {
 *   throw ecsFailure(err, context, signal);
 * }
 * ```
 */
export function ecsFailure(
  err: unknown,
  context: EcsCallContext,
  signal?: AbortSignal,
): DiscoveryError | AbortedError {
  if (err instanceof DiscoveryError || err instanceof AbortedError) return err;

  const sdk = (typeof err === 'object' && err !== null ? err : {}) as SdkErrorLike;
  const name = typeof sdk.name === 'string' ? sdk.name : 'Error';
  if (signal?.aborted || name === 'AbortError') {
    return new AbortedError(`ECS ${context.operation} was aborted`, { cause: signal?.reason });
  }

  const status = numberOrUndefined(sdk.$metadata?.httpStatusCode);
  const said = `${name}: ${safeServerMessage(sdk.message)}`;
  const where = `ECS ${context.operation} for service ${JSON.stringify(context.service)} ` +
    `in cluster ${JSON.stringify(context.cluster)}`;
  const [reason, advice] = classify(name, status, sdk, context);

  return new DiscoveryError(reason, `${where} failed (${said}); ${advice}`, {
    status,
    server: context.server,
  });
}

/**
 * The error for a request that got no answer within `timeoutMs`. Not retried within the
 * lookup: each attempt would wait as long again; the cache's next refresh tries later.
 *
 * @example
 * ```ts
 * throw ecsTimeout(context, 10_000);
 * ```
 */
export function ecsTimeout(context: EcsCallContext, timeoutMs: number): DiscoveryError {
  return new DiscoveryError(
    'timeout',
    `ECS ${context.operation} for service ${JSON.stringify(context.service)} in cluster ` +
      `${JSON.stringify(context.cluster)} got no answer within ${timeoutMs} ms; check network ` +
      'access to the ECS endpoint (VPC endpoint, NAT, security groups)',
    { server: context.server },
  );
}

/**
 * True for failures worth retrying within one lookup: throttling and ECS server errors.
 * Access denied, missing resources and bad settings will not fix themselves.
 *
 * @example
 * ```ts
 * if (isRetryableEcsFailure(err)) await sleep(backoff);
 * ```
 */
export function isRetryableEcsFailure(err: unknown): boolean {
  return err instanceof DiscoveryError && (err.reason === 'throttled' || err.reason === 'server');
}

function classify(
  name: string,
  status: number | undefined,
  sdk: SdkErrorLike,
  context: EcsCallContext,
): [DiscoveryFailure, string] {
  const tries = `after ${context.attempt} of ${context.attempts} attempts`;
  const code = typeof sdk.code === 'string' ? sdk.code : undefined;

  if (throttlingNames.has(name) || status === 429) {
    return ['throttled', `ECS is rate limiting this account (${tries}); poll less often ` +
      '(WORKER_POLL_INTERVAL_SECONDS) or spread other ECS API callers out'];
  }

  if (forbiddenNames.has(name)) {
    return ['forbidden', `the AWS identity in use may not list this service's tasks; ` +
      `grant it ${iamActions} on the cluster (the task role, on ECS)`];
  }

  if (unauthorizedNames.has(name) || status === 401) {
    return ['unauthorized', 'AWS did not accept the credentials; check the task role, ' +
      'AWS_PROFILE or the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in use and that they are ' +
      'current (credentials are never shown)'];
  }

  if (name === 'ClusterNotFoundException') {
    return ['not-found', `no cluster ${JSON.stringify(context.cluster)} in this account ` +
      'and region; check ECS_WORKER_CLUSTER_NAME and AWS_REGION'];
  }

  if (name === 'ServiceNotFoundException') {
    return ['not-found', `no service ${JSON.stringify(context.service)} in cluster ` +
      `${JSON.stringify(context.cluster)}; check ECS_WORKER_SERVICE_NAME`];
  }

  if (name === 'ServerException' || sdk.$fault === 'server' || (status ?? 0) >= 500) {
    return ['server', `ECS reported a server error (${tries}); it usually passes, try again`];
  }

  if (/region is missing/i.test(String(sdk.message))) {
    return ['config', 'no AWS region is configured; set AWS_REGION, such as us-east-1'];
  }

  if (name === 'TimeoutError' || code === 'ETIMEDOUT') {
    return ['timeout', 'the ECS endpoint did not answer in time; check network access to it'];
  }

  if (code !== undefined && unreachableCodes.has(code)) {
    return ['unreachable', `could not connect to the ECS endpoint (${code}); check ` +
      'AWS_ENDPOINT_URL_ECS / AWS_ENDPOINT_URL, VPC endpoints and security groups'];
  }

  if (name === 'ClientException' || name === 'InvalidParameterException') {
    return ['config', 'ECS refused the request; check the cluster and service settings'];
  }

  const looksMalformed = /JSON|deserializ/i.test(errorText(sdk));
  if (status === undefined && sdk.$fault === undefined && looksMalformed) {
    return ['malformed', 'the endpoint did not answer like ECS; check the endpoint override'];
  }

  return ['unavailable', 'ECS could not be asked; the lookup will be tried again'];
}

function errorText(sdk: SdkErrorLike): string {
  return `${String(sdk.name)} ${String(sdk.message)}`;
}

/** Keeps the server's explanation but never anything that looks like a key id. */
function safeServerMessage(message: unknown): string {
  const text = typeof message === 'string' && message !== '' ? message : 'no message';
  const masked = text
    .replace(/\b(AKIA|ASIA|AIDA|AROA)[A-Z0-9]{12,}\b/g, '$1…')
    .replace(/[A-Za-z0-9/+=]{40,}/g, '…');
  return masked.length > 300 ? `${masked.slice(0, 300)}…` : masked;
}

function numberOrUndefined(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined;
}
