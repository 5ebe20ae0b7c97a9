import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, databaseEnv, env, kafkaEnv, loadConfig } from './config.js';

const schema = z.object({ ...databaseEnv, ...kafkaEnv, PORT: env.port(8081), DEBUG: env.bool(false) });

describe('loadConfig', () => {
  it('parses and applies defaults', () => {
    const config = loadConfig(schema, { DATABASE_URL: 'postgres://x@h/db', KAFKA_BROKERS: 'a:1, b:2' });
    expect(config).toMatchObject({ PORT: 8081, DEBUG: false, DATABASE_POOL_MAX: 10, KAFKA_BROKERS: ['a:1', 'b:2'] });
  });

  it('names a missing variable and says it is not set', () => {
    expect(() => loadConfig(schema, { KAFKA_BROKERS: 'a:1' })).toThrow(/DATABASE_URL: .*\(not set\)/);
  });

  it('names a malformed variable and the reason', () => {
    const error = captureError(() =>
      loadConfig(schema, { DATABASE_URL: 'mysql://nope', KAFKA_BROKERS: 'a:1', PORT: '70000', DEBUG: 'maybe' }),
    );
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toMatch(/DATABASE_URL: must be a postgres:\/\/ connection URL/);
    expect(problems).toMatch(/PORT: .*65535/);
    expect(problems).toMatch(/DEBUG: /);
  });

  it('rejects an empty broker list', () => {
    expect(() => loadConfig(schema, { DATABASE_URL: 'postgres://h/db', KAFKA_BROKERS: ' , ' })).toThrow(
      /KAFKA_BROKERS: must list at least one value/,
    );
  });
});

function captureError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}
