/**
 * The simulated agents of the feed-server bench, in a process of their own:
 * agents sit on other machines, so the server process's CPU is the server's
 * alone. Started by bench/feed-server.ts over IPC; each agent is a plain `ws`
 * client that says hello (or, against the bare baseline, only listens),
 * acknowledges each offer as the extension does, and notes when each arrived
 * (wall clock, comparable across processes on one machine).
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

/** `urls`: one, or the nodes of a cluster, taken in turn (agent i on node i mod n). */
export type ToAgents = { type: 'start'; kind: 'feed' | 'bare'; urls: string[]; tokens: string[] } | { type: 'report' } | { type: 'close' };
export type FromAgents = { type: 'ready' } | { type: 'count'; n: number } | { type: 'report'; arrivals: [string, number][] } | { type: 'failed'; error: string };

const wallClock = () => performance.timeOrigin + performance.now();
const arrivals = new Map<string, number>();
const sockets: WebSocket[] = [];
const send = (message: FromAgents) => process.send!(message);

function connect(kind: 'feed' | 'bare', url: string, token: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    sockets.push(socket);
    socket.once('error', reject);
    socket.on('open', () => {
      if (kind === 'bare') return resolve();
      socket.send(JSON.stringify({ type: 'hello', v: 1, token, resumeFrom: 0, presence: 'available', client: { name: 'bench-agent', version: '1' } }));
    });
    socket.on('message', (data) => {
      const at = wallClock();
      const frame = JSON.parse(data.toString()) as { type: string; seq?: number; conversation?: { comment: string } };
      if (frame.type === 'welcome') return resolve();
      if (frame.type !== 'offer') return;
      if (kind === 'feed') socket.send(JSON.stringify({ type: 'ack', seq: frame.seq }));
      arrivals.set(frame.conversation!.comment, at);
    });
  });
}

process.on('message', (message: ToAgents) => {
  if (message.type === 'start') {
    void (async () => {
      // In slices: a thousand handshakes at once is a test of the kernel's accept queue, not of the feed.
      const { urls, tokens } = message;
      for (let i = 0; i < tokens.length; i += 100) await Promise.all(tokens.slice(i, i + 100).map((t, j) => connect(message.kind, urls[(i + j) % urls.length]!, t)));
      send({ type: 'ready' });
      setInterval(() => send({ type: 'count', n: arrivals.size }), 50).unref();
    })().catch((error: unknown) => send({ type: 'failed', error: String(error) }));
  } else if (message.type === 'report') send({ type: 'report', arrivals: [...arrivals] });
  else {
    for (const s of sockets) s.terminate();
    process.exit(0);
  }
});
