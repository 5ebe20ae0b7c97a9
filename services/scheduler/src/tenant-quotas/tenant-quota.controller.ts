import { readQuota, readUsage, releaseQuota, writeQuota, type QuotaUsage } from '@conveyor/jobs';
import type { Pool } from '@conveyor/platform';
import { nextConditions, sameStatus, type ConditionInput } from '../operator/conditions.js';
import { ResourceController, type ResourceControllerOptions } from '../operator/controller.js';
import { keyOf } from '../operator/resource.js';
import { atLimitCondition, checkSpec, describeLimits, FINALIZER, sameLimits, tenantOf, type TenantQuotaObject, type TenantQuotaStatus } from './tenant-quota.resource.js';

export interface TenantQuotaControllerOptions extends ResourceControllerOptions {
  pool: Pool;
  /** Usage in the status is counted again this often (and the limits re-applied if someone changed them). */
  resyncMs?: number;
}

/**
 * Reconciles TenantQuota resources into tenant_quotas with the admin endpoint's own writeQuota,
 * marked as owned by the resource (the endpoint then answers 409 naming it); deleting the resource
 * removes the limits. Status: Applied, AtLimit and the usage, recounted every resyncMs.
 */
export class TenantQuotaController extends ResourceController<TenantQuotaObject> {
  constructor(private readonly options: TenantQuotaControllerOptions) {
    super(options);
  }

  private get resyncMs(): number {
    return this.options.resyncMs ?? 30_000;
  }

  /** A TenantQuota it blocked may own the tenant now. */
  protected override removed(obj: TenantQuotaObject): void {
    this.requeueTenant(tenantOf(obj));
  }

  private requeueTenant(tenant: string): void {
    this.requeueClaims(tenant, tenantOf);
  }

  protected async reconcile(obj: TenantQuotaObject): Promise<void> {
    const { pool, logger } = this.options;
    const tenant = tenantOf(obj);
    const key = keyOf(obj);
    const log = logger.child({ tenantQuota: key, tenant });

    const finished = await this.finalized(obj, FINALIZER, async () => {
      // Only rows this resource owns go: a conflicting duplicate never wrote any.
      if (await releaseQuota(pool, tenant, key)) log.info('TenantQuota deleted: the tenant\'s limits removed');
      this.requeueTenant(tenant);
    });
    if (finished) return;

    const generation = obj.metadata.generation ?? 1;
    const previous = obj.status;
    const status = (conditions: ConditionInput[], usage?: TenantQuotaStatus['usage']): TenantQuotaStatus => ({
      observedGeneration: generation,
      tenant,
      usage,
      conditions: nextConditions(previous?.conditions, conditions, generation, this.now()),
    });
    const refuse = (reason: string, message: string) => status([{ type: 'Applied', status: 'False', reason, message }]);

    let next: TenantQuotaStatus;
    const older = this.olderClaim(obj, tenantOf);
    const check = checkSpec(obj);
    if (older) {
      next = refuse('TenantConflict', `tenant ${tenant} is limited by TenantQuota ${keyOf(older)}, which is older`);
    } else if (!check.ok) {
      next = refuse('InvalidSpec', check.message);
    } else {
      const stored = await readQuota(pool, tenant);
      let owner = stored.managedBy;
      // Written only when different: a resync leaves updated_at alone.
      if (owner !== key || !sameLimits(stored.limits, check.limits)) {
        if (!this.queue.acting) return;
        const outcome = await writeQuota(pool, tenant, check.limits, `TenantQuota ${key}`, key);
        owner = outcome.written ? key : outcome.managedBy;
        if (outcome.written) log.info({ limits: check.limits }, 'TenantQuota applied');
      }
      if (owner !== key) {
        // Another resource's row, written by an operator watching elsewhere (another namespace or cluster).
        next = refuse('ManagedElsewhere', `the limits of tenant ${tenant} are managed by TenantQuota ${owner}`);
      } else {
        const usage = this.freshUsage(previous, generation) ?? present(await readUsage(pool, tenant));
        next = status(
          [
            { type: 'Applied', status: 'True', reason: 'Applied', message: `limits of tenant ${tenant}: ${describeLimits(check.limits)}` },
            atLimitCondition(check.limits, usage),
          ],
          usage,
        );
      }
    }
    this.queue.enqueue(key, this.resyncMs);
    if (sameStatus(previous, next)) return;
    // A merge patch replaces what it names: an absent usage is sent as null so a stale one goes.
    await this.writeStatus(obj, { ...next, usage: next.usage ?? null });
  }

  /**
   * The usage already in the status while it is younger than a resync (and describes this
   * generation): the update event of our own status write reconciles again at once, and counting
   * anew there would write again, and again.
   */
  private freshUsage(previous: TenantQuotaStatus | undefined, generation: number): TenantQuotaStatus['usage'] | undefined {
    const usage = previous?.usage;
    if (!usage || previous.observedGeneration !== generation) return undefined;
    const age = this.now().getTime() - new Date(usage.observedAt).getTime();
    return age >= 0 && age < this.resyncMs * 0.9 ? usage : undefined;
  }
}

const present = (usage: QuotaUsage): NonNullable<TenantQuotaStatus['usage']> => ({
  queued: usage.queued,
  running: usage.running,
  submitsLastMinute: usage.submitsLastMinute,
  observedAt: usage.observedAt.toISOString(),
});
