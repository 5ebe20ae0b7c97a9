import { z } from 'zod';

/**
 * Keyset position in a newest-first list: the last item's created_at (microsecond text, as
 * Postgres keeps it; a JS Date would lose the microseconds and skip or repeat rows) and id.
 */
export interface Cursor {
  createdAt: string;
  id: string;
}

const cursorSchema = z.object({
  createdAt: z.iso.datetime({ offset: true, precision: 6 }),
  id: z.guid(),
});

const SEPARATOR = '|';

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(`${cursor.createdAt}${SEPARATOR}${cursor.id}`, 'utf8').toString('base64url');
}

/** `undefined` for anything that is not a cursor this api produced. */
export function decodeCursor(text: string): Cursor | undefined {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(text)) return undefined;
  const [createdAt, id, ...rest] = Buffer.from(text, 'base64url').toString('utf8').split(SEPARATOR);
  if (rest.length > 0) return undefined;
  const parsed = cursorSchema.safeParse({ createdAt, id });
  return parsed.success ? parsed.data : undefined;
}
