import { CoordinationV1Api, Observable, V1MicroTime, type KubeConfig, type ObservableMiddleware, type V1LeaseSpec } from '@kubernetes/client-node';
import { LeaseConflict, type LeaseStore } from './lease.election.js';
import type { LeaseRecord } from './lease-record.js';

/**
 * The API server parses a Lease's times with exactly six fractional digits (metav1.MicroTime);
 * V1MicroTime serializes so, where a plain Date would send three and be refused with 400.
 */
export function toLeaseSpec(record: LeaseRecord): V1LeaseSpec {
  return {
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    acquireTime: new V1MicroTime(record.acquireTime.getTime()),
    renewTime: new V1MicroTime(record.renewTime.getTime()),
    leaseTransitions: record.leaseTransitions,
  };
}

/** The client hands MicroTime fields back as strings; a Lease written by others may lack fields. */
export function toLeaseRecord(spec: V1LeaseSpec | undefined): LeaseRecord {
  const time = (value: unknown) => new Date(value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : 0);
  return {
    holderIdentity: spec?.holderIdentity ?? '',
    leaseDurationSeconds: spec?.leaseDurationSeconds ?? 0,
    acquireTime: time(spec?.acquireTime),
    renewTime: time(spec?.renewTime),
    leaseTransitions: spec?.leaseTransitions ?? 0,
  };
}

const statusOf = (error: unknown): number | undefined => (error as { code?: number } | null)?.code;

/** Each request gives up after `timeoutMs`, so a hung connection cannot hold the election loop. */
function timeoutOption(timeoutMs: number) {
  const timeout: ObservableMiddleware = {
    pre: (context) => {
      context.setSignal(AbortSignal.timeout(timeoutMs));
      return new Observable(Promise.resolve(context));
    },
    post: (response) => new Observable(Promise.resolve(response)),
  };
  return { middleware: [timeout], middlewareMergeStrategy: 'append' as const };
}

export function kubernetesLeaseStore(kc: KubeConfig, namespace: string, name: string, timeoutMs: number): LeaseStore {
  const api = kc.makeApiClient(CoordinationV1Api);
  const conflict = (error: unknown, what: string): never => {
    if (statusOf(error) === 409) throw new LeaseConflict(`${what} lease ${namespace}/${name}: conflict`, { cause: error });
    throw error;
  };
  return {
    describe: `${namespace}/${name}`,
    async read() {
      try {
        const lease = await api.readNamespacedLease({ name, namespace }, timeoutOption(timeoutMs));
        return { record: toLeaseRecord(lease.spec), resourceVersion: lease.metadata?.resourceVersion ?? '' };
      } catch (error) {
        if (statusOf(error) === 404) return undefined;
        throw error;
      }
    },
    async create(record) {
      const body = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec: toLeaseSpec(record) };
      const lease = await api.createNamespacedLease({ namespace, body }, timeoutOption(timeoutMs)).catch((error: unknown) => conflict(error, 'creating'));
      return lease.metadata?.resourceVersion ?? '';
    },
    async replace(record, resourceVersion) {
      const body = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace, resourceVersion }, spec: toLeaseSpec(record) };
      const lease = await api.replaceNamespacedLease({ name, namespace, body }, timeoutOption(timeoutMs)).catch((error: unknown) => conflict(error, 'replacing'));
      return lease.metadata?.resourceVersion ?? '';
    },
  };
}
