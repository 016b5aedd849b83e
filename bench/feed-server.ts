/**
 * Feed server: offers created at a fixed rate and delivered to agents over
 * loopback WebSockets (durable SQLite log write, routing, JSON, socket), against a
 * bare `ws` server that sends the same bytes to the same number of clients.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import WebSocket, { WebSocketServer } from 'ws';
import { startFeedServer } from '../server/feed-server.ts';
import { TestAgent } from '../server/test-agent.ts';
import { type Distribution, distribution, paced, waitFor } from './stats.ts';

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

function figures(latencies: number[], sent: number, elapsedMs: number): ServerFigures {
  return { ...distribution(latencies), sent, throughput: Math.round((latencies.length / elapsedMs) * 1000) };
}

export async function benchFeedServer({ agents: count, rate, seconds }: ServerBenchOptions): Promise<ServerFigures> {
  const total = rate * seconds;
  const agents = Array.from({ length: count }, (_, i) => ({ id: `a${i}`, name: `Agent ${i}`, token: `bench-agent-token-${String(i).padStart(8, '0')}`, capacity: 100_000 }));
  // A real file, fsynced on every commit (synchronous = FULL), as operators run it.
  const dataDir = mkdtempSync(path.join(tmpdir(), 'deskbell-bench-'));
  const server = await startFeedServer({ dataDir, agents, apiKey: 'bench-api-key-0123456789abcdef', offerTimeoutSec: 600, rateLimit: 100_000 });
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const clients: TestAgent[] = [];
  // Connect in slices: a thousand handshakes at once is a test of the kernel's accept queue, not of the feed.
  for (let i = 0; i < agents.length; i += 100) {
    clients.push(...(await Promise.all(agents.slice(i, i + 100).map((a) => TestAgent.connect(server.feedUrl, a.token, { validate: false })))));
  }
  await Promise.all(clients.map((c) => c.next('welcome')));
  for (const c of clients) {
    c.socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { type: string; seq?: number; conversation?: { comment: string } };
      if (frame.type !== 'offer') return;
      // The client acknowledges, as the extension does, so the server does not reroute.
      c.send({ type: 'ack', seq: frame.seq! });
      const t0 = sentAt.get(frame.conversation!.comment);
      if (t0 !== undefined) latencies.push(performance.now() - t0);
    });
  }
  const start = await paced(total, rate, (i) => {
    const key = `bench ${i}`;
    sentAt.set(key, performance.now());
    server.service.createConversation({ scenario: 'chat', channel: 'chat', customer: { name: `Customer ${i}` }, comment: key });
  });
  await waitFor(() => latencies.length >= total);
  const result = figures(latencies, total, performance.now() - start);
  await Promise.all(clients.map((c) => c.close()));
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
  return result;
}

export async function benchBareWs({ agents: count, rate, seconds }: ServerBenchOptions): Promise<ServerFigures> {
  const total = rate * seconds;
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  const serverSide: WebSocket[] = [];
  wss.on('connection', (s) => serverSide.push(s));
  const latencies: number[] = [];
  const sentAt = new Map<string, number>();
  const clients: WebSocket[] = [];
  for (let i = 0; i < count; i += 100) {
    const slice = Array.from({ length: Math.min(100, count - i) }, () => new Promise<WebSocket>((resolve) => {
      const ws = new WebSocket(url);
      ws.on('open', () => resolve(ws));
      ws.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as { conversation: { comment: string } };
        latencies.push(performance.now() - sentAt.get(frame.conversation.comment)!);
      });
    }));
    clients.push(...(await Promise.all(slice)));
  }
  await waitFor(() => serverSide.length === count);
  const sample = { type: 'offer', seq: 1, offerId: 'x', conversation: { id: 'c', scenario: 'chat', channel: 'chat', customer: { name: 'Customer' }, comment: '', waitingSince: 0, status: 'offered' }, offeredAt: 0, expiresAt: 0 };
  const start = await paced(total, rate, (i) => {
    const key = `bench ${i}`;
    sentAt.set(key, performance.now());
    serverSide[i % count]!.send(JSON.stringify({ ...sample, conversation: { ...sample.conversation, comment: key } }));
  });
  await waitFor(() => latencies.length >= total);
  const result = figures(latencies, total, performance.now() - start);
  for (const c of clients) c.close();
  await new Promise((r) => wss.close(r));
  return result;
}
