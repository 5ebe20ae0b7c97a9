import pg from 'pg';
import type { Platform } from '../support/platform.js';
import { ConveyorClient } from './client.js';

export interface PlatformUsers {
  /** The demo user: tenant `demo`, scopes jobs:read and jobs:write. */
  demo: ConveyorClient;
  /** The admin user: scope conveyor:admin. */
  admin: ConveyorClient;
  /** The platform's database, for what a test checks beneath the API (close it in afterAll). */
  db: pg.Pool;
}

/** The seeded users of a started platform, logged in through its gateway, and its database. */
export async function connectTo(platform: Platform): Promise<PlatformUsers> {
  const [demoToken, adminToken] = await Promise.all([platform.login(), platform.login('admin@example.com', 'admin-password')]);
  return {
    demo: new ConveyorClient(platform.gatewayUrl, demoToken),
    admin: new ConveyorClient(platform.gatewayUrl, adminToken),
    db: new pg.Pool({ connectionString: platform.database.url, max: 2 }),
  };
}
