import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

function isCode(error: unknown, code: string): boolean {
  return (error as { code?: unknown } | null)?.code === code;
}

/**
 * The dev signing key kept in a file: read when it exists, else generated (ES256, PKCS#8 PEM) and
 * written once, readable by the owner only. Tokens then survive a restart, a crash or kill -9.
 * The file appears whole or not at all (written aside, then hard-linked into place), and when two
 * gateways start at once the first link wins and both use its key.
 */
export async function loadOrCreateDevKeyFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if (!isCode(error, 'ENOENT')) throw new Error(`cannot read JWT_DEV_SIGNING_KEY_FILE ${file}`, { cause: error });
  }
  const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const aside = `${file}.${randomUUID()}.tmp`;
  await writeFile(aside, pem, { mode: 0o600, flag: 'wx' });
  try {
    await link(aside, file);
    return pem;
  } catch (error) {
    if (isCode(error, 'EEXIST')) return readFile(file, 'utf8');
    throw new Error(`cannot write JWT_DEV_SIGNING_KEY_FILE ${file}`, { cause: error });
  } finally {
    await unlink(aside).catch(() => undefined);
  }
}
