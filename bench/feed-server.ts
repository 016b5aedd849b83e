/**
 * Feed server: offers created at a fixed rate and delivered to agents over
 * loopback WebSockets (durable SQLite log write, routing, JSON, socket), against a
 * bare `ws` server that sends the same bytes to the same number of clients.
 * The agents run in a process of their own (bench/agents.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import WebSocket, { WebSocketServer } from 'ws';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startFeedServer } from '../server/feed-server.ts';
import type { FromAgents, ToAgents } from './agents.ts';
import { type Distribution, distribution, paced, waitFor, wallClock } from './stats.ts';

export interface ServerFigures extends Distribution {
  sent: number;
  /** Offers delivered per second, over the whole run. */
  throughput: number;
}

export interface ServerBenchOptions {
  agents: number;
  rate: number;
  seconds: number;
}

export function figures(latencies: number[], sent: number, elapsedMs: number): ServerFigures {
  return { ...distribution(latencies), sent, throughput: Math.round((latencies.length / elapsedMs) * 1000) };
}

/** The agents' process: started, connected, and asked for when each offer arrived. */
export async function startAgents(kind: 'feed' | 'bare', url: string | string[], tokens: string[]) {
  const child = fork(fileURLToPath(new URL('./agents.ts', import.meta.url)), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let count = 0;
  const replies: ((m: FromAgents) => void)[] = [];
  child.on('message', (m: FromAgents) => {
    if (m.type === 'count') count = m.n;
    else replies.shift()?.(m);
  });
  const ask = (message: ToAgents) =>
    new Promise<FromAgents>((resolve) => {
      replies.push(resolve);
      child.send(message);
    });
  const ready = await ask({ type: 'start', kind, urls: Array.isArray(url) ? url : [url], tokens });
  if (ready.type !== 'ready') throw new Error(`bench: the agents could not connect (${ready.type === 'failed' ? ready.error : ready.type})`);
  return {
    count: () => count,
    report: async () => {
      const reply = await ask({ type: 'report' });
      return new Map(reply.type === 'report' ? reply.arrivals : []);
    },
    close: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.send({ type: 'close' } satisfies ToAgents);
      }),
  };
}

/**
 * Sends `total` offers at `rate` a second (`send` makes offer `i`, its
 * comment `key`), waits until the agents have them all, and closes the
 * agents. Latency: sent (this process) → arrived (the agents' process), both
 * wall clock.
 */
export async function deliver(clients: Awaited<ReturnType<typeof startAgents>>, total: number, rate: number, send: (i: number, key: string) => unknown): Promise<ServerFigures> {
  const sentAt = new Map<string, number>();
  const start = await paced(total, rate, (i) => {
    const key = `bench ${i}`;
    sentAt.set(key, wallClock());
    send(i, key);
  });
  await waitFor(() => clients.count() >= total);
  const elapsed = performance.now() - start;
  const arrivals = await clients.report();
  await clients.close();
  const latencies = [...sentAt].flatMap(([key, at]) => (arrivals.has(key) ? [arrivals.get(key)! - at] : []));
  return figures(latencies, total, elapsed);
}

/**
 * The runs' data directories, removed once all runs are done: deleting a
 * large SQLite log on a disk mounted with online discard slows the fsyncs of
 * the run after it, which is the bench's cost, not the server's.
 */
const dataDirs: string[] = [];

export function removeBenchData(): void {
  for (const dir of dataDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export async function benchFeedServer({ agents: count, rate, seconds }: ServerBenchOptions): Promise<ServerFigures> {
  const total = rate * seconds;
  const agents = Array.from({ length: count }, (_, i) => ({ id: `a${i}`, name: `Agent ${i}`, token: `bench-agent-token-${String(i).padStart(8, '0')}`, capacity: 100_000 }));
  // A real file, fsynced on every commit (synchronous = FULL), as operators run it.
  const dataDir = mkdtempSync(path.join(tmpdir(), 'deskbell-bench-'));
  const server = await startFeedServer({ dataDir, agents, apiKey: 'bench-api-key-0123456789abcdef', offerTimeoutSec: 600, rateLimit: 100_000 });
  const clients = await startAgents('feed', server.feedUrl, agents.map((a) => a.token));
  const result = await deliver(clients, total, rate, (i, key) =>
    server.service.createConversation({ scenario: 'chat', channel: 'chat', customer: { name: `Customer ${i}` }, comment: key }),
  );
  await server.close();
  dataDirs.push(dataDir);
  return result;
}

export async function benchBareWs({ agents: count, rate, seconds }: ServerBenchOptions): Promise<ServerFigures> {
  const total = rate * seconds;
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  const serverSide: WebSocket[] = [];
  wss.on('connection', (s) => serverSide.push(s));
  const clients = await startAgents('bare', url, Array.from({ length: count }, () => ''));
  await waitFor(() => serverSide.length === count);
  const sample = { type: 'offer', seq: 1, offerId: 'x', conversation: { id: 'c', scenario: 'chat', channel: 'chat', customer: { name: 'Customer' }, comment: '', waitingSince: 0, status: 'offered' }, offeredAt: 0, expiresAt: 0 };
  const result = await deliver(clients, total, rate, (i, key) => serverSide[i % count]!.send(JSON.stringify({ ...sample, conversation: { ...sample.conversation, comment: key } })));
  await new Promise((r) => wss.close(r));
  return result;
}
