import type { RawRequest } from '../support/raw-http.js';

/**
 * Generates requests that carry text no part of Conveyor may take: NUL (Postgres refuses it) and
 * unpaired UTF-16 surrogates (no UTF-8 form; Postgres refuses them too), in each form a client can
 * send them (a JSON escape, raw bytes, percent-encoding) and in each place a request has (body
 * value, body key, path, query name and value, header). Every one must get 400 with the reason.
 */

interface BadText {
  name: string;
  /** Inside a JSON string literal; null when JSON cannot say it. */
  json: string | null;
  /** Percent-encoded, for a path or query. */
  percent: string;
  /** The bytes as they would travel raw (a header value, a body). */
  bytes: number[];
}

/** What an answer must name: NUL, a surrogate, or bytes that are not UTF-8. */
export const REASON = /NUL|surrogate|UTF-8/;

export const BAD_TEXT: readonly BadText[] = [
  { name: 'lone high surrogate', json: '\\ud800', percent: '%ED%A0%80', bytes: [0xed, 0xa0, 0x80] },
  { name: 'lone low surrogate', json: '\\udfff', percent: '%ED%BF%BF', bytes: [0xed, 0xbf, 0xbf] },
  { name: 'surrogates in reverse order', json: '\\udc00\\ud800', percent: '%ED%B0%80%ED%A0%80', bytes: [0xed, 0xb0, 0x80, 0xed, 0xa0, 0x80] },
  { name: 'high surrogate cut off at the end', json: 'ok\\ud83d', percent: 'ok%ED%A0%BD', bytes: [0x6f, 0x6b, 0xed, 0xa0, 0xbd] },
  { name: 'NUL', json: '\\u0000', percent: '%00', bytes: [0x00] },
  { name: 'NUL inside text', json: 'a\\u0000b', percent: 'a%00b', bytes: [0x61, 0x00, 0x62] },
  { name: 'overlong NUL', json: null, percent: '%C0%80', bytes: [0xc0, 0x80] },
];

export interface UnsafeTextCase {
  name: string;
  request: RawRequest;
}

const ANY_ID = '0b4c4d2e-8d1c-4a8e-9f00-00000000abcd';

/** Every bad text in every place; `authorization` is the hostile tenant's header value. */
export function unsafeTextCases(authorization: string, now = new Date()): UnsafeTextCase[] {
  const auth: [string, string] = ['Authorization', authorization];
  const json = (target: string, body: string | Buffer): RawRequest => ({
    method: 'POST',
    target,
    headers: [auth, ['Content-Type', 'application/json']],
    body,
  });
  const get = (target: string, method = 'GET'): RawRequest => ({ method, target, headers: [auth] });
  const cases: UnsafeTextCase[] = [];
  for (const bad of BAD_TEXT) {
    const add = (where: string, request: RawRequest) => cases.push({ name: `${bad.name} in ${where}`, request });
    if (bad.json !== null) {
      add('a payload value', json('/jobs', `{"type":"noop","payload":{"a":"${bad.json}"}}`));
      add('a payload key', json('/jobs', `{"type":"noop","payload":{"${bad.json}":1}}`));
      add('a nested payload value', json('/jobs', `{"type":"noop","payload":{"list":[{"deep":"${bad.json}"}]}}`));
      add('the job type', json('/jobs', `{"type":"${bad.json}","payload":{}}`));
      add('a reservation userId', json('/points/reservations', `{"userId":"${bad.json}","amount":1,"executeAt":"${now.toISOString()}"}`));
      add('a report field', json('/generate-report', `{"format":"${bad.json}"}`));
    }
    const raw = Buffer.from(bad.bytes);
    add('raw body bytes', json('/jobs', Buffer.concat([Buffer.from('{"type":"noop","payload":{"a":"'), raw, Buffer.from('"}}')])));
    add('the path (points)', get(`/points/${bad.percent}`));
    add('the path (job id)', get(`/jobs/${bad.percent}`));
    add('the path (job result)', get(`/jobs/${bad.percent}/result`));
    add('the path (cancel)', get(`/jobs/${bad.percent}`, 'DELETE'));
    add('the path (notification)', { ...get(`/notifications/${bad.percent}/read`, 'POST') });
    add('the query (type)', get(`/jobs?type=${bad.percent}`));
    add('the query (cursor)', get(`/jobs?cursor=${bad.percent}`));
    add('the query (status)', get(`/jobs?limit=5&status=${bad.percent}`));
    add('a query name', get(`/jobs?${bad.percent}=1`));
    add('the Idempotency-Key header', { ...json('/jobs', '{"type":"noop","payload":{}}'), headers: [auth, ['Content-Type', 'application/json'], ['Idempotency-Key', raw]] });
    add('the X-Request-ID header', { ...get('/jobs'), headers: [auth, ['X-Request-ID', raw]] });
    add('the Last-Event-ID header', { ...get(`/jobs/${ANY_ID}/events`), headers: [auth, ['Last-Event-ID', raw]] });
  }
  return cases;
}
