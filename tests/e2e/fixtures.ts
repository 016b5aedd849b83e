/**
 * Playwright fixtures: a feed server on 127.0.0.1 with a fresh SQLite file,
 * a fake CRM site, and Debian Chromium with the built extension loaded in a
 * persistent context (extensions need one).
 */
import { test as base, type BrowserContext, chromium, type Worker } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type FeedServer, type FeedServerOptions, startFeedServer } from '../../server/feed-server';
import type { Diagnostics } from '../../utils/storage-items';
import type { FeedState } from '../../utils/feed-state';
import { startCrmSite, type CrmSite } from './crm-site';

export const EXTENSION_PATH = path.resolve('.output/chrome-mv3');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const AGENT = { id: 'agent-1', name: 'Alex Morgan', token: 'e2e-agent-token', capacity: 100 };
export const API_KEY = 'e2e-api-key';

/** Flags Chromium needs as root in a sandboxless container with no network. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  `--disable-extensions-except=${EXTENSION_PATH}`,
  `--load-extension=${EXTENSION_PATH}`,
];

export class Feed {
  server!: FeedServer;
  constructor(
    readonly dataDir: string,
    readonly options: FeedServerOptions = {},
  ) {}

  async start(port = 0): Promise<this> {
    this.server = await startFeedServer({
      dataDir: this.dataDir,
      agents: [AGENT],
      apiKey: API_KEY,
      port,
      ...this.options,
    });
    return this;
  }

  /** Stops the server abruptly (sockets terminated) and starts it again on the same port and data. */
  async restart(downMs = 0): Promise<void> {
    const port = this.server.port;
    await this.server.close();
    if (downMs) await new Promise((r) => setTimeout(r, downMs));
    await this.start(port);
  }

  get url(): string {
    return this.server.feedUrl;
  }

  async api<T = Record<string, any>>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.server.httpUrl}${route}`, {
      method,
      headers: { authorization: `Bearer ${API_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as T };
  }

  createConversation(body: Record<string, unknown>) {
    return this.api<{ conversation: { id: string } }>('POST', '/api/conversations', body);
  }
}

export interface ExtensionHandle {
  id: string;
  worker(): Promise<Worker>;
  /** Points the extension at a feed, as an admin would on the options page. */
  configureFeed(url: string, token?: string): Promise<void>;
  feedState(): Promise<FeedState>;
  diagnostics(): Promise<Diagnostics>;
}

type Fixtures = { feed: Feed; crm: CrmSite; context: BrowserContext; extension: ExtensionHandle };

export const test = base.extend<Fixtures>({
  feed: async ({}, use) => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'deskbell-feed-'));
    const feed = await new Feed(dataDir).start();
    await use(feed);
    await feed.server.close().catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  },

  crm: async ({}, use) => {
    const site = await startCrmSite();
    await use(site);
    await site.close();
  },

  context: async ({}, use) => {
    const userDataDir = mkdtempSync(path.join(tmpdir(), 'deskbell-profile-'));
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 800 },
    });
    await use(context);
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
  },

  extension: async ({ context }, use) => {
    const first = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker'));
    const id = new URL(first.url()).host;
    /** The worker can be stopped and restarted by a test: always find the live one. */
    const worker = async (): Promise<Worker> => {
      const live = context.serviceWorkers().find((w) => w.url().startsWith(`chrome-extension://${id}/`));
      return live ?? context.waitForEvent('serviceworker');
    };
    const readSession = async <T>(key: string): Promise<T> =>
      (await worker()).evaluate(async (k) => (await chrome.storage.session.get(k))[k], key) as Promise<T>;
    await use({
      id,
      worker,
      configureFeed: async (url, token = AGENT.token) => {
        await (await worker()).evaluate(
          async ([u, t]) => chrome.storage.local.set({ feedSettings: { url: u, token: t } }),
          [url, token] as const,
        );
      },
      feedState: () => readSession<FeedState>('feedState'),
      diagnostics: () => readSession<Diagnostics>('diagnostics'),
    });
  },
});

export const expect = test.expect;
