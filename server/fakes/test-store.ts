/**
 * The store the server tests run on: the server suite runs twice, on SQLite
 * and on PostgreSQL (vitest project "server on PostgreSQL", whose global
 * setup starts a cluster: postgres-setup.ts).
 */
import { createHash, randomUUID } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import './postgres-setup.ts';

const base = inject('postgresUrl') as string | undefined;

export const TEST_STORE: 'sqlite' | 'postgres' = base ? 'postgres' : 'sqlite';

let admin: pg.Pool | undefined;

/**
 * Options that put a test server on the store under test. `:memory:` (the
 * default) is a fresh store each time; a directory is the same data every
 * time it is named (a restart): its SQLite file, or a database named after it.
 */
export async function storeOptions(dataDir = ':memory:'): Promise<{ dataDir: string; store?: string }> {
  if (!base) return { dataDir };
  const name = dataDir === ':memory:' ? `t_${randomUUID().replaceAll('-', '')}` : `d_${createHash('sha256').update(dataDir).digest('hex').slice(0, 32)}`;
  admin ??= new pg.Pool({ connectionString: base, max: 1 });
  const exists = (await admin.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1;
  if (!exists) await admin.query(`create database ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return { dataDir, store: url.href };
}
