/**
 * The public route table. Every path the gateway serves is listed here once; anything else is 404
 * and a listed path with another method is 405, before any credential is looked at.
 */
export type Scope = 'jobs:read' | 'jobs:write' | 'points:grant' | 'conveyor:admin';

/** What serves a route: the api behind us, or the gateway itself. */
export type Target = 'proxy' | 'login' | 'me' | 'jwks' | 'openapi';

export interface Route {
  method: string;
  /** Template with `:param` segments; also the `route` label of logs and metrics. */
  template: string;
  target: Target;
  /** Required scope; `authenticated` for any valid token; `null` for public routes, which need none. */
  scope: Scope | 'authenticated' | null;
  /** Long-lived streams (SSE): no upstream body timeout. */
  stream?: boolean;
  /**
   * The rate limit counts the jobs in the body's `jobs` array, not the request: the gateway reads
   * the body (within its limit) to count them before forwarding it.
   */
  perJob?: boolean;
}

export const ROUTES: readonly Route[] = [
  { method: 'POST', template: '/jobs', target: 'proxy', scope: 'jobs:write' },
  { method: 'GET', template: '/jobs', target: 'proxy', scope: 'jobs:read' },
  // Before /jobs/:id, which would take `counts` and `events` for a job id.
  { method: 'GET', template: '/jobs/counts', target: 'proxy', scope: 'jobs:read' },
  { method: 'GET', template: '/jobs/events', target: 'proxy', scope: 'jobs:read', stream: true },
  { method: 'GET', template: '/jobs/:id', target: 'proxy', scope: 'jobs:read' },
  { method: 'DELETE', template: '/jobs/:id', target: 'proxy', scope: 'jobs:write' },
  { method: 'GET', template: '/jobs/:id/result', target: 'proxy', scope: 'jobs:read' },
  { method: 'GET', template: '/jobs/:id/events', target: 'proxy', scope: 'jobs:read', stream: true },
  { method: 'POST', template: '/jobs/:id/retry', target: 'proxy', scope: 'jobs:write' },
  // A job's webhook log is read as the job is; sending a delivery again is a write, like a retry.
  { method: 'GET', template: '/jobs/:id/deliveries', target: 'proxy', scope: 'jobs:read' },
  { method: 'POST', template: '/jobs/:id/deliveries/:deliveryId/redeliver', target: 'proxy', scope: 'jobs:write' },
  { method: 'POST', template: '/jobs/batch', target: 'proxy', scope: 'jobs:write', perJob: true },
  // Flows (DAGs of jobs): submitting one creates jobs, so jobs:write; the rate limit counts the request.
  { method: 'POST', template: '/flows', target: 'proxy', scope: 'jobs:write' },
  { method: 'GET', template: '/flows/:id', target: 'proxy', scope: 'jobs:read' },
  { method: 'POST', template: '/flows/:id/cancel', target: 'proxy', scope: 'jobs:write' },
  // Dead letters span tenants: operators only.
  { method: 'GET', template: '/dlq', target: 'proxy', scope: 'conveyor:admin' },
  { method: 'POST', template: '/dlq/redrive', target: 'proxy', scope: 'conveyor:admin' },
  // A tenant sees its own jobs' numbers; the queues' (every tenant's) need conveyor:admin, decided by the api.
  { method: 'GET', template: '/pools', target: 'proxy', scope: 'jobs:read' },
  { method: 'GET', template: '/pools/:name', target: 'proxy', scope: 'jobs:read' },
  { method: 'GET', template: '/pools/:name/history', target: 'proxy', scope: 'conveyor:admin' },
  { method: 'POST', template: '/pools/:name/pause', target: 'proxy', scope: 'conveyor:admin' },
  { method: 'POST', template: '/pools/:name/resume', target: 'proxy', scope: 'conveyor:admin' },
  // A tenant's quota and its usage: limits are the operator's (the console's Admin page reads them).
  { method: 'GET', template: '/quotas', target: 'proxy', scope: 'conveyor:admin' },
  { method: 'GET', template: '/tenants/:tenant/quota', target: 'proxy', scope: 'conveyor:admin' },
  { method: 'PUT', template: '/tenants/:tenant/quota', target: 'proxy', scope: 'conveyor:admin' },
  // Pausing a job type or a tenant holds jobs of every tenant or of one: operators only.
  { method: 'GET', template: '/pauses', target: 'proxy', scope: 'conveyor:admin' },
  { method: 'GET', template: '/job-types/:name/pause', target: 'proxy', scope: 'conveyor:admin' },
  { method: 'POST', template: '/job-types/:name/pause', target: 'proxy', scope: 'conveyor:admin' },
  { method: 'POST', template: '/job-types/:name/resume', target: 'proxy', scope: 'conveyor:admin' },
  { method: 'GET', template: '/tenants/:tenant/pause', target: 'proxy', scope: 'conveyor:admin' },
  { method: 'POST', template: '/tenants/:tenant/pause', target: 'proxy', scope: 'conveyor:admin' },
  { method: 'POST', template: '/tenants/:tenant/resume', target: 'proxy', scope: 'conveyor:admin' },
  { method: 'POST', template: '/generate-report', target: 'proxy', scope: 'jobs:write' },
  // Granting points creates value: its own scope, which an ordinary jobs:write client lacks.
  { method: 'POST', template: '/points/reservations', target: 'proxy', scope: 'points:grant' },
  { method: 'GET', template: '/points/:userId', target: 'proxy', scope: 'jobs:read' },
  { method: 'GET', template: '/notifications/unread', target: 'proxy', scope: 'jobs:read' },
  { method: 'POST', template: '/notifications/:id/read', target: 'proxy', scope: 'jobs:write' },
  // The tenant's webhook signing secret: whoever may submit jobs with a callbackUrl configures their receivers.
  { method: 'GET', template: '/webhooks/secret', target: 'proxy', scope: 'jobs:write' },
  { method: 'POST', template: '/webhooks/secret/rotate', target: 'proxy', scope: 'jobs:write' },
  // The job type registry: every client may read what it can submit; registering and retiring is the operator's.
  { method: 'GET', template: '/job-types', target: 'proxy', scope: 'jobs:read' },
  { method: 'GET', template: '/job-types/:name', target: 'proxy', scope: 'jobs:read' },
  { method: 'PUT', template: '/job-types/:name', target: 'proxy', scope: 'conveyor:admin' },
  { method: 'DELETE', template: '/job-types/:name', target: 'proxy', scope: 'conveyor:admin' },
  // Cron schedules: a tenant manages its own (a schedule only submits what the tenant could submit
  // itself); conveyor:admin reaches every tenant's through the api's ?tenant=.
  { method: 'GET', template: '/schedules', target: 'proxy', scope: 'jobs:read' },
  { method: 'POST', template: '/schedules', target: 'proxy', scope: 'jobs:write' },
  { method: 'GET', template: '/schedules/:name', target: 'proxy', scope: 'jobs:read' },
  { method: 'PATCH', template: '/schedules/:name', target: 'proxy', scope: 'jobs:write' },
  { method: 'DELETE', template: '/schedules/:name', target: 'proxy', scope: 'jobs:write' },
  { method: 'POST', template: '/schedules/:name/pause', target: 'proxy', scope: 'jobs:write' },
  { method: 'POST', template: '/schedules/:name/resume', target: 'proxy', scope: 'jobs:write' },
  { method: 'POST', template: '/schedules/:name/trigger', target: 'proxy', scope: 'jobs:write' },
  // The api's document with the gateway's own operations added (openapi.ts).
  { method: 'GET', template: '/openapi.json', target: 'openapi', scope: null },
  { method: 'POST', template: '/auth/login', target: 'login', scope: null },
  { method: 'GET', template: '/auth/me', target: 'me', scope: 'authenticated' },
  // Public half of the key dev tokens are signed with (404 when this gateway issues none).
  { method: 'GET', template: '/.well-known/jwks.json', target: 'jwks', scope: null },
];

export type RouteMatch =
  | { kind: 'found'; route: Route; params: Record<string, string> }
  | { kind: 'method-not-allowed'; template: string; allow: string[] }
  | { kind: 'not-found' };

interface CompiledRoute {
  route: Route;
  segments: string[];
}

/** Splits a path into segments; `null` for paths no route can match (`..`, empty segments). */
function splitPath(path: string): string[] | null {
  if (!path.startsWith('/')) return null;
  const segments = path === '/' ? [] : path.slice(1).split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) return null;
  return segments;
}

function matchSegments(pattern: string[], segments: string[]): Record<string, string> | null {
  if (pattern.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const s = segments[i]!;
    if (p.startsWith(':')) params[p.slice(1)] = s;
    else if (p !== s) return null;
  }
  return params;
}

/** Builds a matcher over a route table; HEAD is served wherever GET is. */
export function createRouter(routes: readonly Route[] = ROUTES): (method: string, path: string) => RouteMatch {
  const compiled: CompiledRoute[] = routes.map((route) => ({ route, segments: splitPath(route.template) ?? [] }));
  return (method, path) => {
    const segments = splitPath(path);
    if (!segments) return { kind: 'not-found' };
    const allow = new Set<string>();
    let template: string | undefined;
    for (const { route, segments: pattern } of compiled) {
      const params = matchSegments(pattern, segments);
      if (!params) continue;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) {
        return { kind: 'found', route, params };
      }
      template ??= route.template;
      allow.add(route.method);
      if (route.method === 'GET') allow.add('HEAD');
    }
    if (template === undefined) return { kind: 'not-found' };
    allow.add('OPTIONS');
    return { kind: 'method-not-allowed', template, allow: [...allow].sort() };
  };
}
