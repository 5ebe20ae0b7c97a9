import type { RequestHandler } from 'express';
import type { Pool } from '@conveyor/platform';
import { HttpError } from '../http-errors.js';
import { identityOf } from '../identity.js';
import { listUnread, markRead } from './notifications.repo.js';
import { parseIdOr404 } from '../request.js';
import { notificationIdParam } from '../schemas.js';
import type { RouteDef } from '../routes/route.js';

/** The caller's own job-completion notices: tenant and subject both must match. */
export function notificationRoutes(deps: { pool: Pool }): RouteDef[] {
  const unread: RequestHandler = async (_req, res) => {
    const { tenant, subject } = identityOf(res);
    const items = await listUnread(deps.pool, tenant, subject);
    res.status(200).json({ items: items.map((n) => ({ ...n, createdAt: n.createdAt.toISOString() })) });
  };

  const read: RequestHandler = async (req, res) => {
    const { id } = parseIdOr404(notificationIdParam, req.params, 'notification');
    const { tenant, subject } = identityOf(res);
    if (!(await markRead(deps.pool, id, tenant, subject))) throw new HttpError(404, 'notification not found');
    res.status(204).end();
  };

  return [
    { method: 'get', path: '/notifications/unread', handlers: [unread] },
    { method: 'post', path: '/notifications/:id/read', handlers: [read] },
  ];
}
