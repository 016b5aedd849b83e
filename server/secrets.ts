/**
 * Secrets the server keeps or compares: the API key, agent tokens, webhook
 * verify tokens. Every comparison is constant-time; every secret the server
 * makes itself is kept in the data directory, readable by its owner only.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** 128 bits as base64url: the shortest agent token or API key the server takes. */
export const MIN_SECRET_CHARS = 22;

/**
 * True when `given` equals `expected`, in time that depends on neither: both
 * are hashed first, so not even the length leaks.
 */
export function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** What the store keeps of an agent token: an HMAC keyed with this installation's secret, never the token. */
export function keyedHash(key: Buffer, token: string): string {
  return createHmac('sha256', key).update(token).digest('hex');
}

export interface KeptSecret {
  value: string;
  /** True when this start made it (the caller prints it once). */
  created: boolean;
  /** Where it is kept; undefined for an in-memory server. */
  file?: string;
}

/**
 * Reads a secret from `<dataDir>/<name>`, or makes a random one and writes it
 * there with mode 0600. An in-memory server (`:memory:`) gets a fresh one each
 * start. A file that others can read is refused: the operator must fix it.
 */
export function keptSecret(dataDir: string, name: string, bytes = 32): KeptSecret {
  if (dataDir === ':memory:') return { value: randomBytes(bytes).toString('base64url'), created: true };
  const file = path.join(dataDir, name);
  try {
    const mode = statSync(file).mode & 0o077;
    if (mode !== 0) throw new Error(`${file} can be read by other users (mode ${(statSync(file).mode & 0o777).toString(8)}); run chmod 600 ${file}`);
    const value = readFileSync(file, 'utf8').trim();
    if (value.length < MIN_SECRET_CHARS) throw new Error(`${file} holds fewer than ${MIN_SECRET_CHARS} characters; delete it to have a new one made`);
    return { value, created: false, file };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const value = randomBytes(bytes).toString('base64url');
  writeFileSync(file, `${value}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return { value, created: true, file };
}
