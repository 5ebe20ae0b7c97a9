/**
 * Secrets that ride inside URLs: `user:password@` and query parameters whose names say they carry
 * one (`?token=`, `&X-Amz-Signature=`, `api_key=`...). Whatever logs a URL (an error message from
 * fetch, a callback URL, a connection string) must not write these in clear.
 */

const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'\\<>]+/gi;
/** `scheme://` then userinfo (which cannot hold `/`, `?` or `#`) up to the last `@` of the authority. */
const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i;
const SECRET_PARAM = /([?&;])([^=&#;]*(?:token|secret|passw|pwd|key|signature|sig|credential|auth|session|code)[^=&#;]*)=[^&#;]*/gi;

export const REDACTED = '[redacted]';

function redactUrl(url: string): string {
  const withoutUserinfo = url.replace(USERINFO, `$1${REDACTED}@`);
  const query = withoutUserinfo.search(/[?]/);
  if (query < 0) return withoutUserinfo;
  return withoutUserinfo.slice(0, query) + withoutUserinfo.slice(query).replace(SECRET_PARAM, `$1$2=${REDACTED}`);
}

/** `text` with the credentials and secret query values of every URL in it replaced by `[redacted]`. */
export function redactUrlSecrets(text: string): string {
  if (!text.includes('://')) return text;
  return text.replace(URL_IN_TEXT, redactUrl);
}
