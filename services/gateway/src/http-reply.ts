import type { ServerResponse } from 'node:http';

/** Error body of the public API (docs/design.md): `{error, details?, requestId}`; messages are ours, never an exception's. */
export function sendError(
  res: ServerResponse,
  status: number,
  error: string,
  requestId: string,
  options: { details?: unknown; headers?: Record<string, string | string[]> } = {},
): void {
  const body: Record<string, unknown> = { error };
  if (options.details !== undefined) body.details = options.details;
  body.requestId = requestId;
  sendJson(res, status, body, options.headers);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  if (res.headersSent) {
    // Too late for a status: cut the stream so the client sees a failure, not a short success.
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.setHeader('Cache-Control', 'no-store');
  res.statusCode = status;
  res.end(text);
}
