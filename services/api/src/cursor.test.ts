import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from './cursor.js';

describe('list cursor', () => {
  const cursor = { createdAt: '2026-01-02T03:04:05.123456Z', id: '0f8fad5b-d9cb-469f-a165-70867728950e', ascending: false };

  it('round-trips and is opaque, URL-safe text', () => {
    const text = encodeCursor(cursor);
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(text).not.toContain('2026');
    expect(decodeCursor(text)).toEqual(cursor);
  });

  it('carries the direction: an oldest-first cursor differs from the newest-first one at the same row', () => {
    const ascending = encodeCursor({ ...cursor, ascending: true });
    expect(ascending).not.toBe(encodeCursor(cursor));
    expect(decodeCursor(ascending)).toEqual({ ...cursor, ascending: true });
    expect(decodeCursor(Buffer.from(`${cursor.createdAt}|${cursor.id}|desc`).toString('base64url'))).toBeUndefined();
  });

  it('rejects anything it did not produce', () => {
    expect(decodeCursor('not a cursor!')).toBeUndefined();
    expect(decodeCursor(Buffer.from('x|y').toString('base64url'))).toBeUndefined();
    expect(decodeCursor(Buffer.from(`${cursor.createdAt}|${cursor.id}|more`).toString('base64url'))).toBeUndefined();
    expect(decodeCursor(Buffer.from(`2026-01-02T03:04:05Z'; DROP TABLE jobs;--|${cursor.id}`).toString('base64url'))).toBeUndefined();
    expect(decodeCursor('')).toBeUndefined();
  });
});
