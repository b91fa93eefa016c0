import type { SliceReport } from '../discovery/endpoint-slices.js';
import type { SelectorTarget } from '../discovery/kubernetes.js';
import type { KubernetesSettings } from '../discovery/kubernetes-settings.js';

/** What else discovery learned that bears on an empty result. */
export interface EmptyResultContext {
  /** What the selector was matched against. */
  readonly selectorTarget: SelectorTarget;
  /**
   * Services whose labels match the selector; `undefined` when they could not be listed (no
   * RBAC permission to list Services, say).
   */
  readonly matchingServices: readonly string[] | undefined;
  /** The address policy in force, described. */
  readonly addressPolicy?: string | undefined;
}

/**
 * The checklist printed when Kubernetes discovery finds no workers: every usual cause, each
 * with what discovery saw that bears on it, so the reader can rule causes out at a glance.
 */
export function explainNoWorkers(
  settings: KubernetesSettings,
  report: SliceReport,
  context: EmptyResultContext = { selectorTarget: 'endpointslices', matchingServices: undefined },
): string[] {
  const selector = settings.labelSelector.text;
  const namespace = settings.namespace;
  const matched = `${report.slices} EndpointSlice(s) matched`;

  const causes = [
    selectorTargetCause(selector, context),
    `Selector: no worker EndpointSlices match "${selector}" (${matched}). EndpointSlices ` +
      "carry their Service's labels, not the pods' labels: compare with " +
      `kubectl get endpointslices -n ${namespace} --show-labels`,
    `Namespace: the workers may run in a namespace other than "${namespace}" ` +
      '(POD_NAMESPACE, --pod-namespace)',
    `Readiness: only ready endpoints become workers (${report.notReady} not ready, ` +
      `${report.terminating} terminating): check the pods' readiness with ` +
      `kubectl get pods -n ${namespace}`,
    'Missing EndpointSlices: the workers need a Service with a pod selector, or nothing ' +
      `creates EndpointSlices for them (${report.endpoints} endpoint(s) seen in total)`,
    `IPv4 only: IPv6 and FQDN EndpointSlices are skipped (${report.skippedSlicesByAddressType} ` +
      `skipped; ${report.badAddresses} endpoint(s) with unusable addresses)`,
  ];
  if (report.missingPort > 0 || report.badPorts > 0) {
    causes.push(`Port name: ${report.missingPort} slice(s) had no port of the configured name, ` +
      `${report.badPorts} a port outside 1-65535`);
  }
  causes.push(addressPolicyCause(report, context.addressPolicy));

  return [
    'No workers found. Check, in order:',
    ...causes.map((cause, index) => `  ${index + 1}. ${cause}`),
  ];
}

function addressPolicyCause(report: SliceReport, policy: string | undefined): string {
  const reasons = Object.entries(report.refusals).map(([reason, count]) => `${count} ${reason}`);
  const detail = reasons.length > 0 ? ` (${reasons.join(', ')})` : '';
  return `Address policy (${policy ?? 'loopback refused'}): ${report.refusedAddresses} ` +
    `endpoint address(es) refused${detail}. Loopback, link-local (169.254.0.0/16, fe80::/10), ` +
    'multicast, broadcast and unspecified addresses never become workers; ' +
    '--allowed-cidrs (WORKER_ALLOWED_CIDRS) limits them further, --allow-loopback admits ' +
    '127.0.0.0/8 for local tests';
}

function selectorTargetCause(selector: string, context: EmptyResultContext): string {
  const services = context.matchingServices;
  const seen = services === undefined
    ? 'Services could not be listed to compare'
    : `${services.length} Service(s) match it${services.length > 0
      ? `: ${services.slice(0, 5).join(', ')}${services.length > 5 ? ', ...' : ''}`
      : ''}`;

  if (context.selectorTarget === 'services') {
    return `Mode: the selector "${selector}" was matched against Services' labels ` +
      `(--selector-target=services); ${seen}. Their EndpointSlices are found through the ` +
      'kubernetes.io/service-name label';
  }
  const hint = services !== undefined && services.length > 0
    ? '. The selector matches Services but not EndpointSlices: to select by Service labels, ' +
      "use --selector-target=services (WORKER_SELECTOR_TARGET=services, option selectorTarget: " +
      "'services')"
    : '';
  return `Mode: the selector "${selector}" was matched against EndpointSlice labels ` +
    `(--selector-target=endpointslices); ${seen}${hint}`;
}

/**
 * The Role a service account needs for discovery, as YAML to apply; printed with a 403.
 *
 * @example
 * ```ts
 * console.error(rbacRoleSnippet('cardinalhq-datalake', 'services').join('\n'));
 * ```
 */
export function rbacRoleSnippet(namespace: string, selectorTarget: SelectorTarget): string[] {
  const lines = [
    'apiVersion: rbac.authorization.k8s.io/v1',
    'kind: Role',
    'metadata:',
    '  name: lakerunner-worker-discovery',
    `  namespace: ${namespace}`,
    'rules:',
    '  - apiGroups: ["discovery.k8s.io"]',
    '    resources: ["endpointslices"]',
    '    verbs: ["list", "watch"]',
  ];
  if (selectorTarget === 'services') {
    lines.push(
      '  - apiGroups: [""]',
      '    resources: ["services"]',
      '    verbs: ["list", "watch"]',
    );
  }
  return lines;
}
