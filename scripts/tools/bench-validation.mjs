// Payload validation per submit, before and after the job type registry, on one core:
//   zod       – what POST /jobs ran before: the built-in's zod schema (safeParse)
//   registry  – what it runs now: validPayload() (the cached ajv validator, then the
//               built-in's zod schema too), for a built-in and for a registered type (ajv alone)
// Run after `make build`: node scripts/tools/bench-validation.mjs [iterations]
import console from 'node:console';
import process from 'node:process';
import { builtinSpecs, JOB_TYPES } from '@conveyor/jobs';
import { validPayload } from '../../services/api/dist/job-types/index.js';
import { compileSchema } from '../../services/api/dist/job-types/validator.js';

const N = Number(process.argv[2] ?? 100_000);

const registered = {
  type: 'object',
  properties: { invoiceId: { type: 'string', minLength: 1 }, amountCents: { type: 'integer', minimum: 1 }, note: { type: 'string', maxLength: 200 } },
  required: ['invoiceId', 'amountCents'],
  additionalProperties: false,
};
const cases = [
  { name: 'sleep', payload: { ms: 200 } },
  { name: 'report.generate', payload: { from: '2026-01-01T00:00:00Z', to: '2026-02-01T00:00:00+01:00', format: 'csv' } },
  { name: 'billing.invoice-send', payload: { invoiceId: 'inv-1', amountCents: 250, note: 'thanks' }, schema: registered },
];

function found(name, schema) {
  const spec = builtinSpecs().find((b) => b.name === name)?.spec;
  const type = { name, version: 1, ...(spec ?? {}), schema: schema ?? spec.schema };
  return { kind: 'found', type, validate: compileSchema(type.schema) };
}

/** Nanoseconds per call over N calls (a fresh payload each: ajv fills defaults in). */
function round(fn, payload) {
  const copies = Array.from({ length: N }, () => globalThis.structuredClone(payload));
  const started = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn(copies[i]);
  return Number(process.hrtime.bigint() - started) / N;
}

const ROUNDS = 5;
const runs = [];
for (const c of cases) {
  const builtin = JOB_TYPES.get(c.name);
  const resolved = found(c.name, c.schema);
  if (builtin) runs.push({ type: c.name, path: 'zod (before)', fn: (p) => builtin.payload.safeParse(p), payload: c.payload, ns: [] });
  runs.push({ type: c.name, path: 'registry (now)', fn: (p) => validPayload(resolved, p), payload: c.payload, ns: [] });
}
// Interleaved rounds, median kept: a shared machine's noise hits every row alike.
for (let r = 0; r < ROUNDS + 1; r++) for (const run of runs) {
  const ns = round(run.fn, run.payload);
  if (r > 0) run.ns.push(ns); // round 0 warms the JIT up
}
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`node ${process.version}, ${N} payloads per round, median of ${ROUNDS} rounds`);
console.table(runs.map(({ type, path, ns }) => ({ type, path, nsPerOp: Math.round(median(ns)), opsPerSecond: Math.round(1e9 / median(ns)) })));
