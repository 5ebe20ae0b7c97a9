import { z } from 'zod';
import { defineJobType, PermanentJobError } from './job-type.js';

export const reportGeneratePayload = z
  .object({
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    format: z.enum(['csv', 'json']).default('json'),
  })
  .refine((p) => !p.from || !p.to || Date.parse(p.from) <= Date.parse(p.to), {
    message: 'from must not be after to',
    path: ['from'],
  });

/** Aggregates the platform's own jobs by type and status over a time range (seed 003's report). */
export const reportGenerate = defineJobType({
  type: 'report.generate',
  payload: reportGeneratePayload,
  maxPayloadBytes: 1024,
  handle: async () => {
    throw new PermanentJobError('report.generate handler is not built yet');
  },
});
