import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger, Pool } from '@conveyor/platform';
import { watchInto } from '../operator/controller.js';
import { kubernetesWriter } from '../operator/resource.js';
import { TenantQuotaController } from './tenant-quota.controller.js';
import { KIND, PLURAL, type TenantQuotaObject } from './tenant-quota.resource.js';

/** Watches TenantQuotas and reconciles them into tenant_quotas while this replica leads. */
export function startTenantQuotaOperator(options: { kc: KubeConfig; namespace: string; pool: Pool; logger: Logger; signal: AbortSignal; resyncMs?: number; onError?: () => void }) {
  const { kc, namespace, logger } = options;
  const controller = new TenantQuotaController({
    pool: options.pool,
    writer: kubernetesWriter(kc, PLURAL),
    logger,
    signal: options.signal,
    onError: options.onError,
    resyncMs: options.resyncMs,
  });
  return watchInto<TenantQuotaObject, TenantQuotaController>(controller, { kc, namespace, logger, plural: PLURAL, kind: KIND });
}
