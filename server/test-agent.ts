/**
 * A scripted agent for server tests and benchmarks: a real `ws` client that
 * speaks protocol v1 and records every frame it receives, and every one the
 * extension's own schema would refuse (`invalid`).
 */
import WebSocket from 'ws';
import { type ClientFrame, parseServerFrame, type Presence, type ServerFrame } from '../protocol/feed.ts';

export class TestAgent {
  readonly frames: ServerFrame[] = [];
  /** Why frames failed the shared schema: the extension would drop each of these. Checked only with `validate`. */
  readonly invalid: string[] = [];
  readonly socket: WebSocket;
  closed?: { code: number; reason: string };
  #waiters: { match: (f: ServerFrame) => boolean; resolve: (f: ServerFrame) => void }[] = [];

  private constructor(url: string, validate: boolean) {
    this.socket = new WebSocket(url);
    this.socket.on('message', (data) => {
      const text = data.toString();
      if (validate) {
        const parsed = parseServerFrame(text);
        if (!parsed.ok) this.invalid.push(parsed.error);
      }
      const frame = JSON.parse(text) as ServerFrame;
      this.frames.push(frame);
      this.#waiters = this.#waiters.filter((w) => (w.match(frame) ? (w.resolve(frame), false) : true));
    });
    this.socket.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
  }

  static async connect(url: string, token: string, opts: { resumeFrom?: number; presence?: Presence; validate?: boolean } = {}): Promise<TestAgent> {
    const agent = new TestAgent(url, opts.validate ?? true);
    await new Promise((resolve, reject) => {
      agent.socket.once('open', resolve);
      agent.socket.once('error', reject);
    });
    agent.send({
      type: 'hello',
      v: 1,
      token,
      resumeFrom: opts.resumeFrom ?? 0,
      presence: opts.presence ?? 'available',
      client: { name: 'test-agent', version: '1' },
    });
    return agent;
  }

  send(frame: ClientFrame | Record<string, unknown>): void {
    this.socket.send(JSON.stringify(frame));
  }

  sendRaw(data: string | Buffer): void {
    this.socket.send(data);
  }

  /** Resolves with the first frame (already received or coming) that matches. */
  next<T extends ServerFrame['type']>(type: T, where: (f: Extract<ServerFrame, { type: T }>) => boolean = () => true, timeoutMs = 5000) {
    const match = (f: ServerFrame) => f.type === type && where(f as Extract<ServerFrame, { type: T }>);
    const seen = this.frames.find(match);
    if (seen) return Promise.resolve(seen as Extract<ServerFrame, { type: T }>);
    return new Promise<Extract<ServerFrame, { type: T }>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} frame within ${timeoutMs} ms; got ${this.frames.map((f) => f.type).join(',')}`)), timeoutMs);
      this.#waiters.push({
        match,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f as Extract<ServerFrame, { type: T }>);
        },
      });
    });
  }

  seqs(): number[] {
    return this.frames.flatMap((f) => ('seq' in f ? [f.seq] : []));
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    await new Promise((resolve) => {
      this.socket.once('close', resolve);
      this.socket.close();
    });
  }
}
