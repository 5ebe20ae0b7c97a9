import { z } from 'zod';

/**
 * Keyset position in a list ordered by (created_at, id): the last item's created_at (microsecond
 * text, as Postgres keeps it; a JS Date would lose the microseconds and skip or repeat rows), its
 * id, and the direction the list runs, so a cursor cannot be replayed against the other order.
 */
export interface Cursor {
  createdAt: string;
  id: string;
  ascending: boolean;
}

const cursorSchema = z.object({
  createdAt: z.iso.datetime({ offset: true, precision: 6 }),
  id: z.guid(),
});

const SEPARATOR = '|';
// Newest-first cursors keep their original two-part form, so those already handed out stay valid.
const ASCENDING = 'asc';

export function encodeCursor(cursor: Cursor): string {
  const parts = [cursor.createdAt, cursor.id, ...(cursor.ascending ? [ASCENDING] : [])];
  return Buffer.from(parts.join(SEPARATOR), 'utf8').toString('base64url');
}

/** `undefined` for anything that is not a cursor this api produced. */
export function decodeCursor(text: string): Cursor | undefined {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(text)) return undefined;
  const [createdAt, id, direction, ...rest] = Buffer.from(text, 'base64url').toString('utf8').split(SEPARATOR);
  if (rest.length > 0 || (direction !== undefined && direction !== ASCENDING)) return undefined;
  const parsed = cursorSchema.safeParse({ createdAt, id });
  return parsed.success ? { ...parsed.data, ascending: direction === ASCENDING } : undefined;
}
