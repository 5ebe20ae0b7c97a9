/**
 * The console's built files (console/dist), read once at start into memory: a page load costs no
 * disk access, and only the files found here exist, so no request path can reach another file.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import mime from 'mime-types';

export type Encoding = 'br' | 'gzip' | 'identity';

export interface Variant {
  body: Buffer;
  /** Strong validator, different per encoding as each is its own representation. */
  etag: string;
}

export interface SiteFile {
  contentType: string;
  /** Vite puts content-hashed files under assets/: their URL changes whenever they do. */
  immutable: boolean;
  variants: Partial<Record<Encoding, Variant>> & { identity: Variant };
}

/** URL path below /console (`/index.html`, `/assets/index-abc.js`) to its file. */
export type Site = ReadonlyMap<string, SiteFile>;

const PRECOMPRESSED: Record<string, Exclude<Encoding, 'identity'>> = { '.br': 'br', '.gz': 'gzip' };

function variant(body: Buffer, digest: string, encoding: Encoding): Variant {
  return { body, etag: `"${digest}${encoding === 'identity' ? '' : `-${encoding}`}"` };
}

/** Reads a built console, or null when `dir` holds none (the console was not built). */
export async function loadSite(dir: string): Promise<Site | null> {
  const index = await stat(path.join(dir, 'index.html')).catch(() => null);
  if (!index?.isFile()) return null;
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const site = new Map<string, SiteFile>();
  const names = new Set(entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name)));
  for (const full of names) {
    const extension = path.extname(full);
    // A precompressed copy is read with its original, and only if that original exists.
    if (PRECOMPRESSED[extension] && names.has(full.slice(0, -extension.length))) continue;
    const body = await readFile(full);
    const digest = createHash('sha256').update(body).digest('base64url').slice(0, 22);
    const urlPath = `/${path.relative(dir, full).split(path.sep).join('/')}`;
    const file: SiteFile = {
      contentType: mime.contentType(path.basename(full)) || 'application/octet-stream',
      immutable: urlPath.startsWith('/assets/'),
      variants: { identity: variant(body, digest, 'identity') },
    };
    for (const [suffix, encoding] of Object.entries(PRECOMPRESSED)) {
      if (!names.has(full + suffix)) continue;
      const compressed = await readFile(full + suffix);
      // Worth sending only when smaller.
      if (compressed.length < body.length) file.variants[encoding] = variant(compressed, digest, encoding);
    }
    site.set(urlPath, file);
  }
  return site;
}
