import type { Pool } from '@conveyor/platform';
import { newSigningSecret, type SecretBox } from './secret-box.js';

export interface SigningSecret {
  id: string;
  secret: string;
  createdAt: Date;
  /** `null` for the current secret; when a rotated-out secret stops being used. */
  expiresAt: Date | null;
}

/** A tenant's valid secrets: the current one and, for a while after a rotation, the previous one. */
export interface TenantSecrets {
  current: SigningSecret;
  previous: SigningSecret | null;
}

interface Row {
  id: string;
  tenant: string;
  ciphertext: Buffer;
  createdAt: Date;
  expiresAt: Date | null;
}

/** Serialises rotations of one tenant (pg_advisory_xact_lock's first key: arbitrary, per purpose). */
const ROTATION_LOCK = 727_002;

/**
 * Each tenant's webhook signing secrets, stored sealed (secret-box.ts). A tenant gets its first
 * secret the first time one is needed: when it reads it, or when its first webhook is signed.
 */
export class WebhookSecrets {
  constructor(
    private readonly pool: Pool,
    private readonly box: SecretBox,
  ) {}

  async forTenant(tenant: string): Promise<TenantSecrets> {
    const secrets = await this.valid([tenant]);
    return toTenantSecrets(secrets.get(tenant)!);
  }

  /** The secrets to sign each tenant's webhooks with, current first. */
  async signingSecrets(tenants: readonly string[]): Promise<Map<string, string[]>> {
    const valid = await this.valid(tenants);
    return new Map([...valid].map(([tenant, secrets]) => [tenant, secrets.map((s) => s.secret)]));
  }

  /**
   * Makes a new current secret. The one it replaces stays valid (webhooks are signed with both)
   * for `previousValidForSeconds`, so receivers can switch without missing a webhook; an older
   * previous one is dropped, so at most two are ever valid.
   */
  async rotate(tenant: string, previousValidForSeconds: number): Promise<TenantSecrets> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [ROTATION_LOCK, tenant]);
      await client.query('DELETE FROM webhook_secrets WHERE tenant = $1 AND expires_at IS NOT NULL', [tenant]);
      await client.query(`UPDATE webhook_secrets SET expires_at = now() + $2 * interval '1 second' WHERE tenant = $1 AND expires_at IS NULL`, [
        tenant,
        previousValidForSeconds,
      ]);
      await client.query('INSERT INTO webhook_secrets (tenant, ciphertext) VALUES ($1, $2)', [tenant, this.box.seal(tenant, newSigningSecret())]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    return this.forTenant(tenant);
  }

  /** Valid secrets per tenant, current first, creating a first secret for tenants without one. */
  private async valid(tenants: readonly string[]): Promise<Map<string, SigningSecret[]>> {
    const unique = [...new Set(tenants)];
    let found = await this.select(unique);
    const missing = unique.filter((t) => !found.get(t)?.some((s) => s.expiresAt === null));
    if (missing.length > 0) {
      await this.pool.query({
        name: 'webhook-secrets.create-first',
        text: `INSERT INTO webhook_secrets (tenant, ciphertext) SELECT * FROM unnest($1::text[], $2::bytea[])
               ON CONFLICT (tenant) WHERE expires_at IS NULL DO NOTHING`,
        values: [missing, missing.map((t) => this.box.seal(t, newSigningSecret()))],
      });
      found = new Map([...found, ...(await this.select(missing))]);
    }
    return found;
  }

  private async select(tenants: readonly string[]): Promise<Map<string, SigningSecret[]>> {
    const { rows } = await this.pool.query<Row>({
      name: 'webhook-secrets.valid',
      text: `SELECT id, tenant, ciphertext, created_at AS "createdAt", expires_at AS "expiresAt" FROM webhook_secrets
             WHERE tenant = ANY($1::text[]) AND (expires_at IS NULL OR expires_at > now())
             ORDER BY tenant, expires_at DESC NULLS FIRST`,
      values: [tenants],
    });
    const byTenant = new Map<string, SigningSecret[]>();
    for (const row of rows) {
      const secret = { id: row.id, secret: this.box.open(row.tenant, row.ciphertext), createdAt: row.createdAt, expiresAt: row.expiresAt };
      byTenant.set(row.tenant, [...(byTenant.get(row.tenant) ?? []), secret]);
    }
    return byTenant;
  }
}

function toTenantSecrets(secrets: SigningSecret[]): TenantSecrets {
  const [current, previous] = secrets;
  if (!current || current.expiresAt !== null) throw new Error('a tenant without a current webhook secret after creating one');
  return { current, previous: previous ?? null };
}
