/**
 * A real PostgreSQL for tests and benches: Debian's server binaries, a
 * temporary cluster in /tmp listening on 127.0.0.1 only, thrown away after.
 * PostgreSQL refuses to run as root, so as root the cluster belongs to the
 * `postgres` user the Debian package creates. Durability is off (fsync):
 * the tests are about behaviour, and the data is gone after anyway.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface TestPostgres {
  /** postgres://… of the cluster's maintenance database. */
  url: string;
  /** A URL for database `name` of the same cluster. */
  urlFor(name: string): string;
  /** Creates database `name` unless it exists, and returns its URL. */
  database(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** The directory of Debian's PostgreSQL server binaries (the newest installed), or an error saying how to get them. */
export function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'pg_ctl'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error('PostgreSQL server binaries not found in /usr/lib/postgresql: apt-get install postgresql (.ci/run does)');
  return path.join(root, newest, 'bin');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBin();
  const root = process.getuid?.() === 0;
  const dir = mkdtempSync(path.join(tmpdir(), 'deskbell-pg-'));
  const data = path.join(dir, 'data');
  // As root, everything runs as the postgres user, who must own the directory.
  const owner = root ? Number(execFileSync('id', ['-u', 'postgres']).toString().trim()) : undefined;
  if (owner !== undefined) chownSync(dir, owner, owner);
  const as = (command: string, args: string[]) => {
    const [file, argv] = root ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
    const result = spawnSync(file, argv, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${path.basename(command)} failed: ${result.stderr || result.stdout}`);
  };
  const port = await freePort();
  as(path.join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'deskbell', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  as(path.join(bin, 'pg_ctl'), [
    '-D',
    data,
    '-l',
    path.join(dir, 'server.log'),
    '-w',
    '-o',
    `-k ${dir} -p ${port} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300`,
    'start',
  ]);
  const urlFor = (name: string) => `postgres://deskbell@127.0.0.1:${port}/${name}`;
  const url = urlFor('postgres');
  const admin = new pg.Pool({ connectionString: url, max: 2 });
  return {
    url,
    urlFor,
    async database(name) {
      if (!/^[a-z0-9_]{1,60}$/.test(name)) throw new Error(`not a test database name: ${name}`);
      const exists = (await admin.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1;
      if (!exists) await admin.query(`create database ${name}`).catch((error: { code?: string }) => {
        // Another worker made it meanwhile.
        if (error.code !== '42P04' && error.code !== '23505') throw error;
      });
      return urlFor(name);
    },
    async stop() {
      await admin.end().catch(() => {});
      try {
        as(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
