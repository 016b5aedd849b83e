/** What the two fake CRM orgs share: the server, a request log, one-shot faults, HTML escaping. */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fault the next matching API request meets, once:
 * - 500: refused, nothing written;
 * - lost: written, then answered 500 (the client cannot tell it worked);
 * - throttle: 429 with Retry-After;
 * - signin: 401, as when the session expired.
 */
export type FaultKind = '500' | 'lost' | 'throttle' | 'signin';
export interface Fault {
  kind: FaultKind;
  method?: string;
  /** Part of the path (or query) the request must contain. */
  path?: string;
  retryAfterS?: number;
}

export interface ApiRequest {
  method: string;
  path: string;
  query: string;
}

export class FakeOrgBase {
  origin = '';
  readonly requests: ApiRequest[] = [];
  readonly faults: Fault[] = [];
  /** Every API request fails with this until cleared ('signin': the session has expired). */
  outage: FaultKind | undefined;
  #close: () => Promise<void> = async () => {};

  /** The next API request that matches meets this fault. */
  failNext(fault: Fault): void {
    this.faults.push(fault);
  }

  /** The fault this request meets, if any (taken off the list). */
  protected takeFault(method: string, url: URL): Fault | undefined {
    if (this.outage) return { kind: this.outage };
    const i = this.faults.findIndex((f) => (!f.method || f.method === method) && (!f.path || decodeURIComponent(url.pathname + url.search).includes(f.path)));
    return i < 0 ? undefined : this.faults.splice(i, 1)[0];
  }

  protected async listen(handler: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void, port = 0): Promise<void> {
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', this.origin || 'http://127.0.0.1');
      Promise.resolve(handler(req, res, url)).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(error));
      });
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    this.#close = () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
  }

  close(): Promise<void> {
    return this.#close();
  }
}

export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 1_000_000) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(body === undefined ? '' : JSON.stringify(body));
}
