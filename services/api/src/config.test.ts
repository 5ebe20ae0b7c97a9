import { describe, expect, it } from 'vitest';
import { loadConfig } from '@conveyor/platform';
import { configSchema } from './config.js';

const base = { DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db', KAFKA_BROKERS: '127.0.0.1:9092' };
const production = { ...base, NODE_ENV: 'production', INTERNAL_TOKEN: 'an-internal-token-0123', WEBHOOK_SECRETS_KEY: 'a-webhook-secrets-key-0123' };

describe('api config: webhooks', () => {
  it('allows no private destination by default, in production or not', () => {
    for (const env of [base, production]) {
      const config = loadConfig(configSchema, env);
      expect(config.WEBHOOK_ALLOWED_HOSTS).toEqual([]);
      expect(config.WEBHOOK_ALLOWED_CIDRS).toEqual([]);
    }
  });

  it('reads the operator allow lists, and refuses a malformed entry naming the variable', () => {
    const config = loadConfig(configSchema, { ...base, WEBHOOK_ALLOWED_HOSTS: 'receiver.internal, 127.0.0.2', WEBHOOK_ALLOWED_CIDRS: '10.20.0.0/16' });
    expect(config.WEBHOOK_ALLOWED_HOSTS).toEqual(['receiver.internal', '127.0.0.2']);
    expect(config.WEBHOOK_ALLOWED_CIDRS).toEqual(['10.20.0.0/16']);
    expect(() => loadConfig(configSchema, { ...base, WEBHOOK_ALLOWED_CIDRS: '10.20.0.0' })).toThrow(/WEBHOOK_ALLOWED_CIDRS/);
  });

  it('refuses the removed WEBHOOK_ALLOW_PRIVATE_NETWORKS with the variables that replace it', () => {
    expect(() => loadConfig(configSchema, { ...base, WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' })).toThrow(/WEBHOOK_ALLOWED_HOSTS/);
  });

  it('needs a secrets key in production, reading the deprecated WEBHOOK_SECRET when that is all there is', () => {
    const { WEBHOOK_SECRETS_KEY: _, ...withoutKey } = production;
    expect(() => loadConfig(configSchema, withoutKey)).toThrow(/WEBHOOK_SECRETS_KEY/);
    expect(loadConfig(configSchema, { ...withoutKey, WEBHOOK_SECRET: 'an-old-webhook-secret-0123' }).WEBHOOK_SECRETS_KEY).toBe('an-old-webhook-secret-0123');
    expect(loadConfig(configSchema, production).WEBHOOK_SECRETS_KEY).toBe('a-webhook-secrets-key-0123');
  });
});
