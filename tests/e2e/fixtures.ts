/**
 * Playwright fixtures: a feed server on 127.0.0.1 with a fresh SQLite file,
 * a fake CRM site, and Debian Chromium with the built extension loaded in a
 * persistent context (extensions need one).
 */
import { test as base, type BrowserContext, chromium, expect as baseExpect, type Page, type Worker } from '@playwright/test';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type FeedServer, type FeedServerOptions, startFeedServer } from '../../server/feed-server';
import type { Diagnostics } from '../../utils/storage-items';
import type { FeedState } from '../../utils/state';
import { startCrmSite, type CrmSite } from './crm-site';
import { AGENT, API_KEY, AUDIT_EXTENSION_PATH, CHROMIUM, CHROMIUM_ARGS, chromiumArgs, CRM_SITE, EXTENSION_PATH, POLICY_DIR, readmeShot, unpackedExtensionId } from './harness';

export { AGENT, API_KEY, AUDIT_EXTENSION_PATH, CHROMIUM, CHROMIUM_ARGS, chromiumArgs, CRM_SITE, EXTENSION_PATH, POLICY_DIR, readmeShot, unpackedExtensionId };

export class Feed {
  server!: FeedServer;
  constructor(
    readonly dataDir: string,
    readonly options: Partial<FeedServerOptions> = {},
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
  /** Stops the service worker as Chrome does to an idle one (CDP Target.closeTarget). */
  killWorker(): Promise<void>;
  /** Loads the build again under the same id, as an update does (CDP Extensions.loadUnpacked). */
  reload(): Promise<void>;
  /** Writes a value to storage.local. */
  setLocal(key: string, value: unknown): Promise<void>;
  /** Changes saved settings, as the options page does. */
  updateSettings(change: Record<string, unknown>): Promise<void>;
  /** Points the extension at a feed, as an admin would on the options page. */
  configureFeed(url: string, token?: string): Promise<void>;
  feedState(): Promise<FeedState>;
  diagnostics(): Promise<Diagnostics>;
}

type Fixtures = { feedOptions: Partial<FeedServerOptions>; extensionPath: string; feed: Feed; crm: CrmSite; context: BrowserContext; extension: ExtensionHandle };

export const test = base.extend<Fixtures>({
  feedOptions: [{}, { option: true }],
  /** Which build to load: the production one, or the audit build (test.use). */
  extensionPath: [EXTENSION_PATH, { option: true }],

  feed: async ({ feedOptions }, use) => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'deskbell-feed-'));
    const feed = await new Feed(dataDir, feedOptions).start();
    await use(feed);
    await feed.server.close().catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  },

  crm: async ({}, use) => {
    const site = await startCrmSite();
    await use(site);
    await site.close();
  },

  context: async ({ extensionPath }, use) => {
    const userDataDir = mkdtempSync(path.join(tmpdir(), 'deskbell-profile-'));
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: chromiumArgs(extensionPath),
      viewport: { width: 1280, height: 800 },
    });
    await use(context);
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
  },

  extension: async ({ context }, use) => {
    const first = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker'));
    const id = new URL(first.url()).host;
    const ours = (w: Worker) => w.url().startsWith(`chrome-extension://${id}/`);
    // A restarted worker is the newest one Playwright knows of.
    const worker = async (): Promise<Worker> =>
      context.serviceWorkers().filter(ours).at(-1) ?? (await context.waitForEvent('serviceworker', { predicate: ours }));
    const killWorker = async () => {
      const page = await extensionPage();
      const cdp = await context.newCDPSession(page);
      const { targetInfos } = await cdp.send('Target.getTargets');
      const target = targetInfos.find((t) => t.type === 'service_worker' && t.url.startsWith(`chrome-extension://${id}/`));
      if (!target) throw new Error('no live service worker to kill');
      await cdp.send('Target.closeTarget', { targetId: target.targetId });
      await cdp.detach();
    };
    // Storage is read and written in the worker while it runs, else from an
    // extension page (a trusted context, like the options page), reopened
    // when a reload closes it; once a page is open it is used from then on.
    let probe: Page | undefined;
    const extensionPage = async (): Promise<Page> => {
      if (!probe || probe.isClosed()) {
        probe = await context.newPage();
        await probe.goto(`chrome-extension://${id}/popup.html`);
      }
      return probe;
    };
    /** Workers Playwright has seen end (stopped, killed, reloaded). */
    const ended = new WeakSet<Worker>();
    const watch = (w: Worker) => w.on('close', () => ended.add(w));
    for (const w of context.serviceWorkers()) watch(w);
    context.on('serviceworker', watch);
    const inExtension = async <T, A>(fn: (arg: A) => Promise<T>, arg: A): Promise<T | undefined> => {
      // The running worker needs no page: opening the first extension page of a browser costs about a second a test.
      const live = context.serviceWorkers().filter((w) => ours(w) && !ended.has(w)).at(-1);
      if (live && !probe) {
        try {
          return (await live.evaluate(fn as (arg: unknown) => Promise<unknown>, arg)) as T;
        } catch (error) {
          // It stopped under us: an extension page reads storage without it.
          if (!/closed|destroyed|restarted|Target|undefined \(reading 'session'|'local'\)/i.test(String(error))) throw error;
        }
      }
      for (let attempt = 0; ; attempt++) {
        try {
          return (await (await extensionPage()).evaluate(fn as (arg: unknown) => Promise<unknown>, arg)) as T;
        } catch (error) {
          // The extension reloaded under us: its old pages are closed or dead. Open a new one.
          if (attempt < 20 && /closed|destroyed|navigat|ERR_BLOCKED_BY_CLIENT|undefined \(reading 'session'|'local'\)/i.test(String(error))) {
            await probe?.close().catch(() => {});
            probe = undefined;
            await new Promise((r) => setTimeout(r, 250));
            continue;
          }
          throw error;
        }
      }
    };
    const readSession = async <T>(key: string): Promise<T> =>
      (await inExtension(async (k) => (await chrome.storage.session.get(k))[k], key)) as T;
    const setLocal = async (key: string, value: unknown) => {
      await inExtension(async ([k, v]) => chrome.storage.local.set({ [k as string]: v }), [key, value] as const);
    };
    /** Changes the settings and waits until the worker has applied them (a new offer is decided with them from then on). */
    const updateSettings = async (change: Record<string, unknown>) => {
      const before = Date.now();
      const changed = await inExtension(async (c) => {
        const { settings } = await chrome.storage.local.get('settings');
        const next = { ...(settings ?? {}), ...c };
        await chrome.storage.local.set({ settings: next });
        return JSON.stringify(next) !== JSON.stringify(settings ?? {});
      }, change);
      if (!changed) return;
      const appliedAt = () =>
        inExtension(async () => ((await chrome.storage.session.get('diagnostics')).diagnostics as { settingsAppliedAt?: number } | undefined)?.settingsAppliedAt ?? 0, null);
      await baseExpect.poll(async () => ((await appliedAt()) ?? 0) >= before).toBe(true);
    };
    // The fake CRM runs on 127.0.0.1: add it as a CRM site, as an admin would, before the test.
    await updateSettings({ crmSites: [CRM_SITE] });
    const reload = async () => {
      const cdp = await context.browser()!.newBrowserCDPSession();
      const { id: reloaded } = (await cdp.send('Extensions.loadUnpacked' as never, { path: EXTENSION_PATH } as never)) as { id: string };
      await cdp.detach();
      if (reloaded !== id) throw new Error(`reload gave a new extension id ${reloaded}`);
    };

    await use({
      id,
      worker,
      killWorker,
      reload,
      setLocal,
      updateSettings,
      configureFeed: (url, token = AGENT.token) => updateSettings({ feedUrl: url, feedToken: token }),
      feedState: () => readSession<FeedState>('feedState'),
      diagnostics: () => readSession<Diagnostics>('diagnostics'),
    });
  },
});

export const expect = test.expect;

/**
 * Runs `body` in a headed Chromium on a virtual X display (Xvfb), with a
 * `press` that sends real key events through X (xdotool): the only input that
 * reaches browser-level accelerators such as extension shortcuts.
 */
export async function withHeadedChromium(
  body: (context: BrowserContext, extensionId: string, press: (keys: string, into?: 'browser' | 'dialog') => void) => Promise<void>,
  extraArgs: string[] = [],
): Promise<void> {
  const display = `:${90 + Math.floor(Math.random() * 9)}`;
  const xvfb = spawn('Xvfb', [display, '-screen', '0', '1280x800x24', '-nolisten', 'tcp'], { stdio: 'ignore' });
  const env = { ...process.env, DISPLAY: display };
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'deskbell-headed-'));
  try {
    await new Promise((r) => setTimeout(r, 700));
    const context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: false, args: [...CHROMIUM_ARGS, ...extraArgs], env });
    try {
      const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker'));
      // 'dialog': to a browser dialog that has the focus (a permission prompt), which focusing the browser window would take away.
      const press = (keys: string, into: 'browser' | 'dialog' = 'browser') => {
        if (into === 'browser') execFileSync('xdotool', ['search', '--sync', '--onlyvisible', '--class', 'chromium', 'windowfocus', '--sync'], { env });
        execFileSync('xdotool', ['key', '--clearmodifiers', keys], { env });
      };
      await body(context, new URL(worker.url()).host, press);
    } finally {
      await context.close();
    }
  } finally {
    xvfb.kill();
    rmSync(userDataDir, { recursive: true, force: true });
  }
}
