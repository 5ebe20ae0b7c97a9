import { describe, expect, it } from 'vitest';
import { resultKey } from '@conveyor/jobs';
import { placeResult } from './result-placement.js';

describe('result placement', () => {
  it('keeps a small JSON result inline as {json}', () => {
    expect(placeResult({ json: { ok: true } }, 100)).toEqual({ kind: 'inline', result: { json: { ok: true } } });
  });

  it('keeps small text inline with its content type', () => {
    expect(placeResult({ contentType: 'text/csv', text: 'a,b\n' }, 4)).toEqual({
      kind: 'inline',
      result: { contentType: 'text/csv', text: 'a,b\n' },
    });
  });

  it('moves results above the limit to an object, counting UTF-8 bytes', () => {
    const placed = placeResult({ contentType: 'text/csv', text: 'é'.repeat(3) }, 5);
    expect(placed.kind).toBe('object');
    if (placed.kind !== 'object') return;
    expect(placed.summary).toEqual({ contentType: 'text/csv', bytes: 6 });
    expect(placed.body.toString('utf8')).toBe('ééé');

    const json = placeResult({ json: { rows: [1, 2, 3] } }, 10);
    expect(json).toMatchObject({ kind: 'object', contentType: 'application/json', summary: { bytes: Buffer.byteLength('{"rows":[1,2,3]}') } });
  });

  it('names objects by tenant and job', () => {
    expect(resultKey('demo', 'j1')).toBe('results/demo/j1');
  });
});
