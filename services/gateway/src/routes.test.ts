import { describe, expect, it } from 'vitest';
import { createRouter } from './routes.js';

const match = createRouter();

describe('route matching', () => {
  it('finds each public route by method and template, with its parameters', () => {
    const found = match('GET', '/jobs/0b9f/result');
    expect(found).toMatchObject({ kind: 'found', route: { template: '/jobs/:id/result', scope: 'jobs:read' }, params: { id: '0b9f' } });
    expect(match('DELETE', '/jobs/42')).toMatchObject({ kind: 'found', route: { template: '/jobs/:id', scope: 'jobs:write' } });
    expect(match('POST', '/notifications/7/read')).toMatchObject({ kind: 'found', route: { scope: 'jobs:write' }, params: { id: '7' } });
    expect(match('GET', '/jobs/1/events')).toMatchObject({ kind: 'found', route: { stream: true } });
    expect(match('GET', '/openapi.json')).toMatchObject({ kind: 'found', route: { scope: null } });
    expect(match('POST', '/auth/login')).toMatchObject({ kind: 'found', route: { target: 'login', scope: null } });
  });

  it('serves HEAD wherever GET is served', () => {
    expect(match('HEAD', '/points/u1')).toMatchObject({ kind: 'found', route: { template: '/points/:userId' } });
  });

  it('answers method-not-allowed with every method the path accepts', () => {
    expect(match('PUT', '/jobs')).toEqual({ kind: 'method-not-allowed', template: '/jobs', allow: ['GET', 'HEAD', 'OPTIONS', 'POST'] });
    expect(match('POST', '/jobs/1')).toMatchObject({ kind: 'method-not-allowed', allow: ['DELETE', 'GET', 'HEAD', 'OPTIONS'] });
  });

  it('does not match unknown, longer, shorter or dot-segment paths', () => {
    for (const path of ['/', '/nope', '/jobs/1/result/extra', '/jobs//result', '/jobs/../auth/me', 'jobs', '/points']) {
      expect(match('GET', path)).toEqual({ kind: 'not-found' });
    }
  });
});
