/**
 * Several nodes on PostgreSQL against one SQLite node, in the same run: the
 * servers run as operators run them (`server/main.ts`, a process each),
 * conversations come in through the HTTP API (spread over the nodes), and
 * the simulated agents (bench/agents.ts) are spread over the nodes too.
 * Latency: the API call made (this process) → the offer arrived (the agents'
 * process), both wall clock.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type NodeProcess, startNodeProcess } from '../server/fakes/node-process.ts';
import { startPostgres } from '../server/fakes/postgres.ts';
import { deliver, type ServerFigures, startAgents } from './feed-server.ts';

export interface ClusterBenchOptions {
  agents: number;
  rate: number;
  seconds: number;
  /** 1 with no store: the single SQLite node. */
  nodes: number;
  store: 'sqlite' | 'postgres';
}

const API_KEY = 'bench-api-key-0123456789abcdef';

export async function benchNodes({ agents: count, rate, seconds, nodes: nodeCount, store }: ClusterBenchOptions): Promise<ServerFigures & { errors: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'deskbell-bench-nodes-'));
  const agents = Array.from({ length: count }, (_, i) => ({ id: `a${i}`, name: `Agent ${i}`, token: `bench-agent-token-${String(i).padStart(8, '0')}`, capacity: 100_000 }));
  writeFileSync(path.join(dir, 'agents.json'), JSON.stringify(agents));
  const postgres = store === 'postgres' ? await startPostgres() : undefined;
  const nodes: NodeProcess[] = [];
  try {
    const where = postgres ? ['--store', await postgres.database('bench')] : ['--data-dir', path.join(dir, 'data')];
    // One after another: the first creates the schema and the agents, the others find them.
    for (let i = 0; i < nodeCount; i++) {
      nodes.push(await startNodeProcess([...where, ...(postgres ? ['--node-id', `node-${i + 1}`] : []), '--agents', path.join(dir, 'agents.json'), '--api-key', API_KEY, '--offer-timeout', '600']));
    }
    const clients = await startAgents(
      'feed',
      nodes.map((n) => n.feedUrl),
      agents.map((a) => a.token),
    );
    let errors = 0;
    const result = await deliver(clients, rate * seconds, rate, (i, key) =>
      fetch(`${nodes[i % nodes.length]!.httpUrl}/api/conversations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ scenario: 'chat', customer: { name: `Customer ${i}` }, comment: key }),
      })
        .then((res) => {
          if (res.status !== 201) errors++;
          return res.arrayBuffer();
        })
        .catch(() => errors++),
    );
    return { ...result, errors };
  } finally {
    await Promise.all(nodes.map((n) => n.kill()));
    await postgres?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
