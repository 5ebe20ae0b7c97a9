import { describe, expect, it } from 'vitest';
import { requestIdFrom } from './request-id.js';
import { declaredTooLarge, limitBody, BodyTooLargeError } from './body-limit.js';
import { Readable } from 'node:stream';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('request ids', () => {
  it('keeps a sane client id and replaces absent, short, long or unsafe ones with a UUID', () => {
    expect(requestIdFrom('abc-123_XYZ.9')).toBe('abc-123_XYZ.9');
    for (const bad of [undefined, 'short', 'x'.repeat(129), 'has space inside', 'new\nline-injected', ['a', 'b']]) {
      expect(requestIdFrom(bad)).toMatch(UUID);
    }
  });
});

describe('body limits', () => {
  it('judges a declared Content-Length', () => {
    expect(declaredTooLarge('1025', 1024)).toBe(true);
    expect(declaredTooLarge('1024', 1024)).toBe(false);
    expect(declaredTooLarge(undefined, 1024)).toBe(false);
  });

  it('passes a body up to the limit and fails one byte over', async () => {
    const read = async (size: number) => {
      const chunks: Buffer[] = [];
      for await (const c of Readable.from([Buffer.alloc(size / 2), Buffer.alloc(size / 2)]).pipe(limitBody(10))) chunks.push(c as Buffer);
      return Buffer.concat(chunks).length;
    };
    expect(await read(10)).toBe(10);
    await expect(read(12)).rejects.toBeInstanceOf(BodyTooLargeError);
  });
});
