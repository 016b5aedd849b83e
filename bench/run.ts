/**
 * `npm run bench`: figures with a baseline measured in the same run, never
 * asserted. Writes bench/report.json.
 *
 * feed-server: offers created at a fixed rate and delivered to agents over
 * loopback WebSockets (SQLite log write, routing, JSON, socket), against a
 * bare `ws` server that sends the same bytes to the same number of clients.
 */
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import WebSocket, { WebSocketServer } from 'ws';
import { startFeedServer } from '../server/feed-server.ts';
import { TestAgent } from '../server/test-agent.ts';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 200);
const RATE = Number(process.env.BENCH_RATE ?? 500);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const TOTAL = RATE * SECONDS;

interface Figures {
  delivered: number;
  sent: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  throughput: number;
}

function summarize(latencies: number[], sent: number, elapsedMs: number): Figures {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => Number((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN).toFixed(2));
  return { delivered: sorted.length, sent, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: at(1), throughput: Math.round((sorted.length / elapsedMs) * 1000) };
}

async function paced(total: number, rate: number, fire: (i: number) => void): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    fire(i);
  }
  return start;
}

async function waitFor(check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check() && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
}

async function benchFeedServer(): Promise<Figures> {
  const agents = Array.from({ length: AGENTS }, (_, i) => ({ id: `a${i}`, name: `Agent ${i}`, token: `token-${i}`, capacity: 100_000 }));
  const server = await startFeedServer({ dataDir: ':memory:', agents, offerTimeoutSec: 600, rateLimit: 100_000 });
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const clients = await Promise.all(agents.map((a) => TestAgent.connect(server.feedUrl, a.token)));
  await Promise.all(clients.map((c) => c.next('welcome')));
  for (const c of clients) {
    c.socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { type: string; conversation?: { comment: string } };
      if (frame.type !== 'offer') return;
      const t0 = sentAt.get(frame.conversation!.comment);
      if (t0 !== undefined) latencies.push(performance.now() - t0);
    });
  }
  const start = await paced(TOTAL, RATE, (i) => {
    const key = `bench ${i}`;
    sentAt.set(key, performance.now());
    server.service.createConversation({ scenario: 'chat', channel: 'chat', customer: { name: `Customer ${i}` }, comment: key });
  });
  await waitFor(() => latencies.length >= TOTAL);
  const figures = summarize(latencies, TOTAL, performance.now() - start);
  await Promise.all(clients.map((c) => c.close()));
  await server.close();
  return figures;
}

async function benchBareWs(): Promise<Figures> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  const serverSide: WebSocket[] = [];
  wss.on('connection', (s) => serverSide.push(s));
  const latencies: number[] = [];
  const sentAt = new Map<string, number>();
  const clients = await Promise.all(
    Array.from({ length: AGENTS }, () => new Promise<WebSocket>((resolve) => {
      const ws = new WebSocket(url);
      ws.on('open', () => resolve(ws));
      ws.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as { conversation: { comment: string } };
        latencies.push(performance.now() - sentAt.get(frame.conversation.comment)!);
      });
    })),
  );
  await waitFor(() => serverSide.length === AGENTS);
  const sample = { type: 'offer', seq: 1, offerId: 'x', conversation: { id: 'c', scenario: 'chat', channel: 'chat', customer: { name: 'Customer' }, comment: '', waitingSince: 0, status: 'offered' }, offeredAt: 0, expiresAt: 0 };
  const start = await paced(TOTAL, RATE, (i) => {
    const key = `bench ${i}`;
    sentAt.set(key, performance.now());
    serverSide[i % AGENTS]!.send(JSON.stringify({ ...sample, conversation: { ...sample.conversation, comment: key } }));
  });
  await waitFor(() => latencies.length >= TOTAL);
  const figures = summarize(latencies, TOTAL, performance.now() - start);
  for (const c of clients) c.close();
  await new Promise((r) => wss.close(r));
  return figures;
}

const baseline = await benchBareWs();
const feed = await benchFeedServer();
const row = (name: string, f: Figures) =>
  `${name.padEnd(22)} ${String(f.delivered).padStart(6)}/${f.sent} ${String(f.throughput).padStart(6)}/s  p50 ${f.p50.toFixed(2).padStart(6)} ms  p95 ${f.p95.toFixed(2).padStart(6)} ms  p99 ${f.p99.toFixed(2).padStart(6)} ms`;
console.log(`feed server: ${AGENTS} agents on loopback, ${RATE} offers/s for ${SECONDS} s`);
console.log(row('bare ws (baseline)', baseline));
console.log(row('deskbell feed server', feed));
console.log(`overhead: p50 +${(feed.p50 - baseline.p50).toFixed(2)} ms, p99 +${(feed.p99 - baseline.p99).toFixed(2)} ms`);
writeFileSync('bench/report.json', JSON.stringify({ at: new Date().toISOString(), agents: AGENTS, rate: RATE, seconds: SECONDS, feedServer: { baseline, deskbell: feed } }, null, 2));
console.log('report: bench/report.json');
