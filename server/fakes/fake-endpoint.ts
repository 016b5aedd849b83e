/**
 * What the fake provider endpoints share: an HTTP server on 127.0.0.1 on a
 * free port, a queue of scripted answers for the next requests, and answers
 * held back (a request the provider took, or did not, whose answer never
 * comes: the caller times out, or dies waiting).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Never answers: `created` says whether the provider had taken the request. */
export type Hold = { kind: 'hold'; created: boolean };

export abstract class FakeEndpoint<B extends { kind: string }> {
  url = '';
  readonly #script: (B | Hold)[] = [];
  readonly #held: ServerResponse[] = [];
  #server: Server | undefined;

  protected abstract handle(req: IncomingMessage, res: ServerResponse): Promise<void>;

  async start(): Promise<this> {
    this.#server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server!.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const res of this.#held.splice(0)) res.destroy();
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve());
  }

  /** The next requests that would be taken meet these, in order; then the fake takes them again. */
  respond(...behaviours: (B | Hold)[]): this {
    this.#script.push(...behaviours);
    return this;
  }

  /** The scripted answer for this request, if any. */
  protected next(): B | Hold | undefined {
    return this.#script.shift();
  }

  /** Keeps the request open with no answer. */
  protected hold(res: ServerResponse): void {
    this.#held.push(res);
  }
}

/** The request body as text. */
export async function bodyOf(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
