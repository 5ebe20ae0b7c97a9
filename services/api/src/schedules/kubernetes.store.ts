/**
 * JobSchedules as custom resources: on Kubernetes the scheduler watches them and stays their one
 * reader, so the api writes the resource and never the table. Every tenant's schedules live in one
 * namespace (SCHEDULES_NAMESPACE); the object's name carries a hash of the tenant, so two tenants
 * may use the same schedule name without learning of each other, and the tenant itself goes in the
 * annotation the scheduler reads (`conveyor.dev/tenant`: any string, unlike a label value).
 */
import { createHash } from 'node:crypto';
import { ApiException, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { GROUP, KIND, PLURAL, TENANT_KEY, VERSION, type JobScheduleObject } from '@conveyor/jobs/schedules';
import { HttpError } from '../http-errors.js';
import type { ScheduleStore, StoredSchedule } from './store.js';
import { MAX_SCHEDULES_PER_TENANT } from './schemas.js';

/** The name the tenant gave, kept beside the hashed object name. */
export const NAME_KEY = 'conveyor.dev/schedule-name';
const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'conveyor-api' };

/** The custom resource as the API server returns it: the scheduler's view plus its versions. */
type Resource = Omit<JobScheduleObject, 'metadata' | 'spec'> & {
  metadata: JobScheduleObject['metadata'] & { resourceVersion?: string };
  spec?: Record<string, unknown>;
};

/** `<name>-<8 hex of sha256(tenant)>`: at most 72 characters, a valid object name for a valid schedule name. */
export function objectName(tenant: string, name: string): string {
  return `${name}-${createHash('sha256').update(tenant).digest('hex').slice(0, 8)}`;
}

/** Replaces tried while status writes keep moving the resourceVersion under an unchanged spec. */
const UPDATE_ATTEMPTS = 5;

const codeOf = (err: unknown) => (err instanceof ApiException ? err.code : undefined);

export function kubernetesScheduleStore(options: { kc: KubeConfig; namespace: string; defaultTenant: string }): ScheduleStore {
  const custom = options.kc.makeApiClient(CustomObjectsApi);
  const ref = { group: GROUP, version: VERSION, plural: PLURAL, namespace: options.namespace };
  // As the scheduler reads it (scheduleTenant): a resource made with kubectl belongs to its label's tenant.
  const tenantOf = (r: Resource) => r.metadata.labels?.[TENANT_KEY] ?? r.metadata.annotations?.[TENANT_KEY] ?? options.defaultTenant;
  const view = (r: Resource): StoredSchedule => ({
    name: r.metadata.annotations?.[NAME_KEY] ?? r.metadata.name,
    tenant: tenantOf(r),
    uid: r.metadata.uid!,
    key: `${r.metadata.namespace ?? options.namespace}/${r.metadata.name}`,
    spec: r.spec ?? {},
    createdAt: r.metadata.creationTimestamp ? new Date(r.metadata.creationTimestamp) : null,
    status: r.status && Object.keys(r.status).length > 0 ? r.status : undefined,
    // The spec's generation, not the resourceVersion: the scheduler's status writes (every fire)
    // bump the latter, and a pause computed from an unchanged spec must not fail for them.
    version: String(r.metadata.generation ?? ''),
  });
  const all = async () => ((await custom.listNamespacedCustomObject(ref)) as { items: Resource[] }).items;
  const read = async (tenant: string, name: string) => {
    try {
      const r = (await custom.getNamespacedCustomObject({ ...ref, name: objectName(tenant, name) })) as Resource;
      return tenantOf(r) === tenant ? r : undefined;
    } catch (err) {
      if (codeOf(err) === 404) return undefined;
      throw err;
    }
  };
  const body = (tenant: string, name: string, spec: Record<string, unknown>, metadata: Partial<Resource['metadata']> = {}): Resource => ({
    apiVersion: `${GROUP}/${VERSION}`,
    kind: KIND,
    metadata: {
      ...metadata,
      name: objectName(tenant, name),
      labels: { ...metadata.labels, ...MANAGED_BY },
      annotations: { ...metadata.annotations, [TENANT_KEY]: tenant, [NAME_KEY]: name },
    },
    spec,
  });

  return {
    async list(tenant) {
      const items = (await all()).map(view);
      return (tenant === null ? items : items.filter((s) => s.tenant === tenant)).sort((a, b) => a.tenant.localeCompare(b.tenant) || a.name.localeCompare(b.name));
    },
    get: async (tenant, name) => {
      const r = await read(tenant, name);
      return r && view(r);
    },
    async create(tenant, name, spec) {
      // Not atomic with the create (the API server has no such check); bounds a tenant's count all the same.
      if ((await this.list(tenant)).length >= MAX_SCHEDULES_PER_TENANT) throw new HttpError(409, `a tenant may have at most ${MAX_SCHEDULES_PER_TENANT} schedules`);
      try {
        return view((await custom.createNamespacedCustomObject({ ...ref, body: body(tenant, name, spec) })) as Resource);
      } catch (err) {
        if (codeOf(err) === 409) throw new HttpError(409, `schedule "${name}" already exists`);
        throw err;
      }
    },
    async update(from, spec) {
      // The replace carries the resourceVersion just read, so the API server refuses it (409) if
      // anyone wrote since; a write that left the spec alone (a status) is read past and retried.
      for (let attempt = 1; ; attempt++) {
        const current = await read(from.tenant, from.name);
        if (!current) return undefined;
        if (String(current.metadata.generation ?? '') !== from.version) throw conflict(from.name);
        try {
          const { name: _n, uid: _u, creationTimestamp: _c, ...kept } = current.metadata;
          return view((await custom.replaceNamespacedCustomObject({ ...ref, name: current.metadata.name, body: body(from.tenant, from.name, spec, kept) })) as Resource);
        } catch (err) {
          if (codeOf(err) === 404) return undefined;
          if (codeOf(err) === 409 && attempt < UPDATE_ATTEMPTS) continue;
          if (codeOf(err) === 409) throw conflict(from.name);
          throw err;
        }
      }
    },
    async remove(tenant, name) {
      if (!(await read(tenant, name))) return false;
      try {
        await custom.deleteNamespacedCustomObject({ ...ref, name: objectName(tenant, name) });
        return true;
      } catch (err) {
        if (codeOf(err) === 404) return false;
        throw err;
      }
    },
  };
}

const conflict = (name: string) => new HttpError(409, `schedule "${name}" changed while this request was applied; read it and retry`);

export { loadKubeConfig };

function loadKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}
