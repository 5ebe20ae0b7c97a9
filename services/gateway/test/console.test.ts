import http from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type RunningService } from '../../../test/support/service-process.js';
import { startStandInApi, type StandInApi } from './support/upstream.js';

/**
 * The gateway serving a built console (static files it reads at start) beside the API: its own CSP,
 * precompressed variants by Accept-Encoding, caching, the page's routes, and its settings.
 */

const INDEX = '<!doctype html><html><head><script type="module" src="/console/assets/app-Ab12.js"></script></head><body></body></html>';
const SCRIPT = `console.log(${JSON.stringify('conveyor '.repeat(400))});`;

/** Raw HTTP, as fetch would decompress the body and hide Content-Encoding's effect. */
function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the console at /console, served by the gateway', () => {
  let api: StandInApi;
  let gw: RunningService;
  let bare: RunningService;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'console-'));
    await mkdir(path.join(dir, 'assets'));
    await writeFile(path.join(dir, 'index.html'), INDEX);
    await writeFile(path.join(dir, 'index.html.gz'), gzipSync(INDEX));
    await writeFile(path.join(dir, 'index.html.br'), brotliCompressSync(INDEX));
    await writeFile(path.join(dir, 'assets/app-Ab12.js'), SCRIPT);
    await writeFile(path.join(dir, 'assets/app-Ab12.js.gz'), gzipSync(SCRIPT));
    await writeFile(path.join(dir, 'assets/app-Ab12.js.br'), brotliCompressSync(SCRIPT));
    await writeFile(path.join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    api = await startStandInApi();
    const env = { OTEL_SDK_DISABLED: 'true', API_URL: api.url, API_INTERNAL_TOKEN: 'test-internal-token-0123456789' };
    [gw, bare] = await Promise.all([
      startService('gateway', { ...env, CONSOLE_DIR: dir, CONSOLE_TRACE_URL: 'http://127.0.0.1:19411/zipkin/traces/{traceId}' }),
      startService('gateway', { ...env, CONSOLE_DIR: path.join(dir, 'assets') }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([gw, bare].filter(Boolean).map((s) => s.stop('SIGKILL')));
    await api?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('serves the page under a CSP that allows only its own scripts, styles and origin', async () => {
    const res = await get(`${gw.url}/console/`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body.toString()).toBe(INDEX);
    const csp = String(res.headers['content-security-policy']);
    const directives = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values.join(' ')]));
    expect(directives).toMatchObject({
      'default-src': "'none'",
      'script-src': "'self'",
      'style-src': "'self'",
      'connect-src': "'self'",
      'frame-ancestors': "'none'",
      'base-uri': "'none'",
    });
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    // The API's answers keep their own, stricter policy.
    const openapi = await get(`${gw.url}/openapi.json`);
    expect(openapi.headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none'");
  });

  it('sends the precompressed variant the client accepts, brotli first, and says it varies', async () => {
    const url = `${gw.url}/console/assets/app-Ab12.js`;
    const br = await get(url, { 'accept-encoding': 'gzip, deflate, br, zstd' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(br.body).toString()).toBe(SCRIPT);
    expect(Number(br.headers['content-length'])).toBe(br.body.length);
    expect(br.body.length).toBeLessThan(SCRIPT.length / 4);
    const gz = await get(url, { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).toString()).toBe(SCRIPT);
    const plain = await get(url);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString()).toBe(SCRIPT);
    const refused = await get(url, { 'accept-encoding': 'br;q=0, gzip;q=0' });
    expect(refused.headers['content-encoding']).toBeUndefined();
    for (const res of [br, gz, plain]) {
      expect(res.headers.vary).toBe('Accept-Encoding');
      expect(res.headers['content-type']).toBe('text/javascript; charset=utf-8');
    }
    // Each encoding is its own representation, with its own validator.
    expect(new Set([br.headers.etag, gz.headers.etag, plain.headers.etag]).size).toBe(3);
  });

  it('caches hashed assets for a year as immutable and revalidates the page every time (304 by ETag)', async () => {
    const asset = await get(`${gw.url}/console/assets/app-Ab12.js`);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const page = await get(`${gw.url}/console/`, { 'accept-encoding': 'br' });
    expect(page.headers['cache-control']).toBe('no-cache');
    const again = await get(`${gw.url}/console/`, { 'accept-encoding': 'br', 'if-none-match': page.headers.etag! });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    const changed = await get(`${gw.url}/console/`, { 'accept-encoding': 'br', 'if-none-match': '"something-else"' });
    expect(changed.status).toBe(200);
    const head = await get(`${gw.url}/console/assets/app-Ab12.js`, {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(Number(head.headers['content-length'])).toBe(SCRIPT.length);
    expect(head.body.length).toBe(0);
  });

  it("answers the page's own routes with the page, and a missing file with 404, never the page", async () => {
    for (const route of ['/console', '/console/jobs', '/console/jobs/4f7a2c1e-0000-4000-8000-000000000000', '/console/dead-letters']) {
      const res = await get(`${gw.url}${route}`);
      expect(res.status, route).toBe(200);
      expect(res.body.toString(), route).toBe(INDEX);
    }
    for (const missing of ['/console/assets/app-Old1.js', '/console/assets/', '/console/robots.txt', '/console/../package.json', '/console/%2e%2e/package.json']) {
      const res = await get(`${gw.url}${missing}`);
      expect(res.status, missing).toBe(404);
      expect(JSON.parse(res.body.toString()), missing).toMatchObject({ error: 'not found', requestId: expect.any(String) });
    }
    expect((await get(`${gw.url}/console/favicon.svg`)).headers['content-type']).toBe('image/svg+xml');
  });

  it('gives the page its settings as JSON (the trace UI link), not inline script', async () => {
    const res = await get(`${gw.url}/console/config.json`);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(res.body.toString())).toEqual({ traceUrl: 'http://127.0.0.1:19411/zipkin/traces/{traceId}' });
    expect(JSON.parse((await get(`${bare.url}/console/config.json`)).body.toString())).toEqual({ traceUrl: null });
  });

  it('refuses other methods with 405 and Allow, without asking for a token', async () => {
    const res = await get(`${gw.url}/console/jobs`, {}, 'POST');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
    expect(api.received.some((r) => r.url.startsWith('/console'))).toBe(false);
  });

  it('says the console is not built when its folder holds none, and still serves the API', async () => {
    const res = await get(`${bare.url}/console/`);
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body.toString()).error).toMatch(/console is not built/);
    expect((await get(`${bare.url}/openapi.json`)).status).toBe(200);
  });
});
