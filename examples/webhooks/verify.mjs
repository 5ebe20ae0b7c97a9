#!/usr/bin/env node
// A webhook receiver that verifies Conveyor's signatures, with nothing but Node's standard library.
//
//   SECRET=$(curl -s localhost:8080/webhooks/secret -H "authorization: Bearer $TOKEN" | jq -r .current.secret)
//   CONVEYOR_WEBHOOK_SECRET=$SECRET node examples/webhooks/verify.mjs      # listens on 127.0.0.1:9000
//
// Each request is answered 204 when its signature verifies and 400 when it does not, and printed
// as one JSON line. CONVEYOR_WEBHOOK_SECRET may list several secrets separated by commas: while
// you switch to a rotated secret, accept both.

/* global process, console, Buffer */
/* eslint-disable no-console -- a command-line receiver: its output is the point */

import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';

/** How old (or how far ahead) a signature's timestamp may be: a replayed old request is refused. */
const TOLERANCE_SECONDS = 300;

/**
 * Checks `Conveyor-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]` against the raw body bytes.
 * Each v1 is HMAC-SHA256 of "<t>.<body>" under one of the tenant's valid secrets; one match is enough.
 */
export function verifyConveyorSignature(header, rawBody, secrets, now = Math.floor(Date.now() / 1000)) {
  if (!header) return { ok: false, reason: 'no Conveyor-Signature header' };
  const parts = header.split(',').map((part) => part.trim().split('='));
  const timestamp = Number(parts.find(([key]) => key === 't')?.[1]);
  const signatures = parts.filter(([key, value]) => key === 'v1' && value).map(([, value]) => Buffer.from(value, 'hex'));
  if (!Number.isInteger(timestamp)) return { ok: false, reason: 'no timestamp' };
  if (Math.abs(now - timestamp) > TOLERANCE_SECONDS) return { ok: false, reason: 'timestamp outside the tolerance' };
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest();
    // timingSafeEqual needs equal lengths; a signature's length is no secret.
    if (signatures.some((given) => given.length === expected.length && timingSafeEqual(given, expected))) return { ok: true };
  }
  return { ok: false, reason: 'signature does not match' };
}

function serve() {
  const secrets = (process.env.CONVEYOR_WEBHOOK_SECRET ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (secrets.length === 0) {
    console.error('set CONVEYOR_WEBHOOK_SECRET to the secret of GET /webhooks/secret');
    process.exit(2);
  }
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      // Verify the bytes as received: parsing and re-serialising the JSON first would change them.
      const raw = Buffer.concat(chunks);
      const result = verifyConveyorSignature(req.headers['conveyor-signature'], raw, secrets);
      const eventId = req.headers['conveyor-event-id'];
      if (!result.ok) {
        console.log(JSON.stringify({ verified: false, reason: result.reason, eventId }));
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: result.reason }));
        return;
      }
      // Deliveries are at least once: deduplicate by Conveyor-Event-Id before acting on one.
      console.log(JSON.stringify({ verified: true, eventId, event: JSON.parse(raw.toString('utf8')) }));
      res.writeHead(204).end();
    });
  });
  const host = process.env.HOST ?? '127.0.0.1';
  server.listen(Number(process.env.PORT ?? 9000), host, () => {
    console.log(JSON.stringify({ listening: `http://${host}:${server.address().port}` }));
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) serve();
