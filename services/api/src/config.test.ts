import { describe, expect, it } from 'vitest';
import { loadConfig } from '@conveyor/platform';
import { configSchema } from './config.js';

const base = { DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db', KAFKA_BROKERS: '127.0.0.1:9092' };
const production = { ...base, NODE_ENV: 'production', INTERNAL_TOKEN: 'an-internal-token-0123', WEBHOOK_SECRET: 'a-webhook-secret-0123' };

describe('api config: webhooks to private networks', () => {
  it('are allowed outside production and refused in production unless set', () => {
    expect(loadConfig(configSchema, base).WEBHOOK_ALLOW_PRIVATE_NETWORKS).toBe(true);
    expect(loadConfig(configSchema, production).WEBHOOK_ALLOW_PRIVATE_NETWORKS).toBe(false);
    expect(loadConfig(configSchema, { ...production, WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'yes' }).WEBHOOK_ALLOW_PRIVATE_NETWORKS).toBe(true);
    expect(loadConfig(configSchema, { ...base, WEBHOOK_ALLOW_PRIVATE_NETWORKS: '0' }).WEBHOOK_ALLOW_PRIVATE_NETWORKS).toBe(false);
  });

  it('reject a value that is not a flag, naming the variable', () => {
    expect(() => loadConfig(configSchema, { ...base, WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'sometimes' })).toThrow(/WEBHOOK_ALLOW_PRIVATE_NETWORKS/);
  });
});
