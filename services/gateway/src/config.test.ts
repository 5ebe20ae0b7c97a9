import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@conveyor/platform';
import { configSchema } from './config.js';

const base = { API_URL: 'http://127.0.0.1:8081' };
const problems = (env: Record<string, string>) => {
  try {
    loadConfig(configSchema, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.join('\n');
    throw error;
  }
  return '';
};

describe('gateway config', () => {
  it('enables dev users and a dev internal token outside production', () => {
    const config = loadConfig(configSchema, { ...base, CORS_ORIGINS: 'http://localhost:3000, https://app.example.com' });
    expect(config.DEV_USERS_ENABLED).toBe(true);
    expect(config.API_INTERNAL_TOKEN).toBe('dev-internal-token');
    expect(config.CORS_ORIGINS).toEqual(['http://localhost:3000', 'https://app.example.com']);
    expect(config.BODY_LIMIT_BYTES).toBe(1024 * 1024);
  });

  it('refuses production with dev users, without JWKS_URL or without API_INTERNAL_TOKEN, naming each', () => {
    const text = problems({ ...base, NODE_ENV: 'production', DEV_USERS_ENABLED: 'true' });
    expect(text).toContain('DEV_USERS_ENABLED:');
    expect(text).toContain('JWKS_URL:');
    expect(text).toContain('API_INTERNAL_TOKEN:');
  });

  it('starts production with a JWKS and dev users off by default', () => {
    const config = loadConfig(configSchema, {
      ...base,
      NODE_ENV: 'production',
      JWKS_URL: 'https://idp.example.com/.well-known/jwks.json',
      API_INTERNAL_TOKEN: 'a-long-enough-shared-secret',
    });
    expect(config.DEV_USERS_ENABLED).toBe(false);
  });

  it('rejects a CORS origin that is not a URL and a non-redis REDIS_URL', () => {
    expect(problems({ ...base, CORS_ORIGINS: 'localhost:3000,*' })).toContain('CORS_ORIGINS');
    expect(problems({ ...base, REDIS_URL: 'http://x' })).toContain('REDIS_URL:');
  });
});
