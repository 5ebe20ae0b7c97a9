import { isUtf8 } from 'node:buffer';

/**
 * Text that no part of Conveyor can store or pass on: Postgres refuses U+0000 in text and jsonb,
 * and an unpaired UTF-16 surrogate (from a JSON escape such as "\ud800") has no UTF-8 encoding.
 * Every boundary that takes text from a client checks it here and answers 400 with the reason.
 */

// With the `u` flag a well-formed surrogate pair is one code point, so only a lone half matches.
const LONE_SURROGATE = /\p{Cs}/u;
// RFC 3986 request targets are printable ASCII; anything else must be percent-encoded.
const NOT_URI_CHARACTER = /[^\x21-\x7e]/;

/** Why a string cannot be taken as text, or undefined when it can. */
export function textProblem(value: string): string | undefined {
  if (value.includes('\u0000')) return 'must not contain the NUL character (U+0000)';
  if (LONE_SURROGATE.test(value)) return 'must not contain an unpaired UTF-16 surrogate (U+D800-U+DFFF without its pair)';
  return undefined;
}

export interface TargetProblem {
  where: 'path' | 'query' | 'header';
  reason: string;
}

function decodedProblem(where: TargetProblem['where'], raw: string): TargetProblem | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    // Malformed %XX, or bytes that are not UTF-8: an overlong NUL (%C0%80), an encoded surrogate (%ED%A0%80).
    return { where, reason: `${where} is not valid percent-encoded UTF-8` };
  }
  const problem = textProblem(decoded);
  return problem === undefined ? undefined : { where, reason: `${where} ${problem}` };
}

/**
 * Checks a request target (`/points/%00?cursor=x`) as a client sent it: ASCII only, and its path
 * and each query name and value, once percent-decoded, valid UTF-8 text without NUL.
 */
export function requestTargetProblem(target: string): TargetProblem | undefined {
  const queryAt = target.indexOf('?');
  const path = queryAt === -1 ? target : target.slice(0, queryAt);
  const query = queryAt === -1 ? '' : target.slice(queryAt + 1);
  if (NOT_URI_CHARACTER.test(path)) return { where: 'path', reason: 'path must be ASCII: percent-encode other characters' };
  if (NOT_URI_CHARACTER.test(query)) return { where: 'query', reason: 'query must be ASCII: percent-encode other characters' };
  const pathProblem = decodedProblem('path', path);
  if (pathProblem) return pathProblem;
  for (const part of query.split('&')) {
    const problem = decodedProblem('query', part.replaceAll('+', ' '));
    if (problem) return problem;
  }
  return undefined;
}

const NON_ASCII = /[\x80-\xff]/;

/**
 * Checks header values as sent: Node reads them as Latin-1 and refuses NUL itself, so what is left
 * is bytes that are not UTF-8, such as an encoded surrogate (ED A0 80). `rawHeaders` alternates
 * names and values, as on IncomingMessage.
 */
export function headersProblem(rawHeaders: readonly string[]): TargetProblem | undefined {
  for (let i = 1; i < rawHeaders.length; i += 2) {
    const value = rawHeaders[i]!;
    if (value.includes('\u0000')) return { where: 'header', reason: `header ${rawHeaders[i - 1]} must not contain the NUL character (U+0000)` };
    if (NON_ASCII.test(value) && !isUtf8(Buffer.from(value, 'latin1'))) {
      return { where: 'header', reason: `header ${rawHeaders[i - 1]} is not valid UTF-8` };
    }
  }
  return undefined;
}

/** The request target and headers of one request: the first problem found, if any. */
export function requestTextProblem(req: { url?: string; rawHeaders: readonly string[] }): TargetProblem | undefined {
  return requestTargetProblem(req.url ?? '/') ?? headersProblem(req.rawHeaders);
}
