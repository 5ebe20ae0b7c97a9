export interface StreamLimits {
  perTenant: number;
  total: number;
}

export type Admission = { ok: true; release: () => void } | { ok: false; reason: 'tenant' | 'total' };

/**
 * Caps open SSE streams per tenant and per process: each stream holds a socket and a slot in the
 * fan-out, so a client opening thousands must not starve everyone else (flood protection).
 */
export class StreamLimiter {
  private readonly byTenant = new Map<string, number>();
  private open = 0;

  constructor(private readonly limits: StreamLimits) {}

  admit(tenant: string): Admission {
    if (this.open >= this.limits.total) return { ok: false, reason: 'total' };
    const current = this.byTenant.get(tenant) ?? 0;
    if (current >= this.limits.perTenant) return { ok: false, reason: 'tenant' };
    this.byTenant.set(tenant, current + 1);
    this.open += 1;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.open -= 1;
        const left = (this.byTenant.get(tenant) ?? 1) - 1;
        if (left <= 0) this.byTenant.delete(tenant);
        else this.byTenant.set(tenant, left);
      },
    };
  }

  get size(): number {
    return this.open;
  }
}
