import type { SliceReport } from '../discovery/endpoint-slices.js';
import type { KubernetesSettings } from '../discovery/kubernetes-settings.js';

/**
 * The checklist printed when Kubernetes discovery finds no workers: every usual cause, each
 * with what discovery saw that bears on it, so the reader can rule causes out at a glance.
 */
export function explainNoWorkers(settings: KubernetesSettings, report: SliceReport): string[] {
  const selector = settings.labelSelector.text;
  const namespace = settings.namespace;
  const matched = `${report.slices} EndpointSlice(s) matched`;

  const causes = [
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

  return [
    'No workers found. Check, in order:',
    ...causes.map((cause, index) => `  ${index + 1}. ${cause}`),
  ];
}
