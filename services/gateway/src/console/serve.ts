/**
 * GET /console/*: the console's static files and its settings, with their own Content-Security-
 * Policy (the API's answers keep `default-src 'none'`). The page is a single-page app: any path
 * that names no file gets index.html, and the page's router shows the right view.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import Negotiator from 'negotiator';
import { sendError, sendJson } from '../http-reply.js';
import type { Encoding, Site, SiteFile } from './site.js';

export const CONSOLE_PREFIX = '/console';

/**
 * Only the page's own scripts and styles run (no inline script or style, no eval), it talks only to
 * this origin (the API is same-origin), and no other site may frame it.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
].join('; ');

const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Revalidated every time (ETag): a deploy is seen at the next load. */
const REVALIDATE = 'no-cache';
const ENCODINGS: Encoding[] = ['br', 'gzip', 'identity'];

export interface ConsoleSettings {
  /** What the page reads at /console/config.json. */
  traceUrl: string | null;
}

export function isConsolePath(path: string): boolean {
  return path === CONSOLE_PREFIX || path.startsWith(`${CONSOLE_PREFIX}/`);
}

/** The file a console URL names, index.html for the page's own routes, or null for a missing file. */
export function fileFor(site: Site, path: string): SiteFile | null {
  const rest = path.slice(CONSOLE_PREFIX.length) || '/';
  const exact = site.get(rest);
  if (exact) return exact;
  // A name with an extension, or anything under assets/, is a file that does not exist: a 404,
  // never the page (a stale script URL answered with HTML would fail obscurely).
  if (rest.startsWith('/assets/') || /\.[A-Za-z0-9]+$/.test(rest)) return null;
  return site.get('/index.html') ?? null;
}

function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  return ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

/**
 * The client's preferred encoding among `available`; on a tie (Chrome sends `gzip, deflate, br,
 * zstd`, all q=1) ours decides, smallest first. negotiator 1.x takes that order as `preferred`,
 * which its published types do not know yet.
 */
export function negotiateEncoding(req: IncomingMessage, available: Encoding[]): Encoding {
  const negotiator = new Negotiator(req) as unknown as { encoding(available: string[], options: { preferred: string[] }): string | undefined };
  return (negotiator.encoding(available, { preferred: available }) as Encoding | undefined) ?? 'identity';
}

export type ConsoleHandler = (req: IncomingMessage, res: ServerResponse, path: string, requestId: string) => void;

export function createConsoleHandler(site: Site | null, settings: ConsoleSettings): ConsoleHandler {
  return (req, res, path, requestId) => {
    res.setHeader('Content-Security-Policy', CONSOLE_CSP);
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      return sendError(res, 405, 'method not allowed', requestId, { headers: { Allow: 'GET, HEAD' } });
    }
    if (path === `${CONSOLE_PREFIX}/config.json`) {
      return sendJson(res, 200, settings);
    }
    if (!site) return sendError(res, 404, 'the console is not built into this gateway (run `make build`)', requestId);
    const file = fileFor(site, path);
    if (!file) return sendError(res, 404, 'not found', requestId);

    const available = ENCODINGS.filter((e) => file.variants[e]);
    const encoding = negotiateEncoding(req, available);
    const chosen = file.variants[encoding] ?? file.variants.identity;
    if (available.length > 1) res.setHeader('Vary', 'Accept-Encoding');
    res.setHeader('Cache-Control', file.immutable ? IMMUTABLE : REVALIDATE);
    res.setHeader('ETag', chosen.etag);
    if (matches(req.headers['if-none-match'], chosen.etag)) {
      res.statusCode = 304;
      res.end();
      return;
    }
    res.setHeader('Content-Type', file.contentType);
    if (encoding !== 'identity') res.setHeader('Content-Encoding', encoding);
    res.setHeader('Content-Length', chosen.body.length);
    res.statusCode = 200;
    res.end(method === 'HEAD' ? undefined : chosen.body);
  };
}
