import type { RequestHandler } from 'express';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** One route of the app; app.ts mounts them and answers 405 for a known path with another method. */
export interface RouteDef {
  method: Method;
  /** Express template (`:param`); openapi.ts documents the same paths as `{param}`. */
  path: string;
  handlers: RequestHandler[];
}
