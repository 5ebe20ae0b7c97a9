import { pino, type Logger } from 'pino';
import { trace, isSpanContextValid } from '@opentelemetry/api';
import { currentContext } from './context.js';
import { redactUrlSecrets } from './redact.js';

export type { Logger } from 'pino';

/** Paths whose values must never reach a log line, whatever logs them. */
const REDACTED = [
  'password',
  '*.password',
  'token',
  '*.token',
  'accessToken',
  '*.accessToken',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'body.password',
];

export interface LoggerOptions {
  service: string;
  level?: string;
  /** Where to write; defaults to stdout. Tests pass a stream to read lines back. */
  destination?: NodeJS.WritableStream;
}

/** JSON logger whose every line carries the active trace and the request/job being handled. */
export function createLogger({ service, level = 'info', destination }: LoggerOptions): Logger {
  return pino(
    {
      level,
      base: { service },
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED, censor: '[redacted]' },
      // Values, not paths: a URL with a password or a token can be in any field or message.
      hooks: { streamWrite: redactUrlSecrets },
      mixin() {
        const fields: Record<string, string> = {};
        const span = trace.getActiveSpan()?.spanContext();
        if (span && isSpanContextValid(span)) {
          fields.trace_id = span.traceId;
          fields.span_id = span.spanId;
        }
        const { requestId, jobId } = currentContext();
        if (requestId) fields.request_id = requestId;
        if (jobId) fields.job_id = jobId;
        return fields;
      },
    },
    destination ?? pino.destination({ sync: false }),
  );
}
