/**
 * A fake CRM on 127.0.0.1: static pages from tests/e2e/pages, served with
 * the headers a test asks for (strict CSP, for instance).
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface CrmSite {
  origin: string;
  url(page?: string): string;
  /** Answers every request for `/held.gif` (a page's last image, say) only once called: the page's load event waits until then. */
  release(): void;
  close(): Promise<void>;
}

/** A transparent 1×1 GIF. */
const GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

const PAGES = path.resolve('tests/e2e/pages');

export async function startCrmSite(headers: Record<string, string> = {}): Promise<CrmSite> {
  let released!: () => void;
  const held = new Promise<void>((resolve) => (released = resolve));
  const server = createServer(async (req, res) => {
    const name = new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/+/, '') || 'crm.html';
    if (name === 'held.gif') return void held.then(() => res.writeHead(200, { 'content-type': 'image/gif' }).end(GIF));
    if (!/^[\w.-]+$/.test(name)) return void res.writeHead(404).end();
    try {
      const body = await readFile(path.join(PAGES, name));
      const type = name.endsWith('.html') ? 'text/html; charset=utf-8' : name.endsWith('.css') ? 'text/css' : 'application/octet-stream';
      res.writeHead(200, { 'content-type': type, ...headers }).end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: (page = 'crm.html') => `${origin}/${page}`,
    release: () => released(),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
