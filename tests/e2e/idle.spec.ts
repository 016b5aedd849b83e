/**
 * Chrome stops an idle service worker after 30 s, and a DevTools attachment
 * (Playwright's) keeps it running. So this test starts Chromium itself,
 * attaches only to set up and to check, and watches the worker from the
 * DevTools HTTP endpoint, which attaches to nothing.
 */
import { type Browser, chromium } from '@playwright/test';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FeedState } from '../../utils/state';
import { AGENT, CHROMIUM, CHROMIUM_ARGS, CRM_SITE, expect, test } from './fixtures';
import { chat } from './steps';

/** Alerts that outlast the test, silent so the ringtone's page plays no part. */
const LONG_ALERTS = { chat: { timeoutSec: 600, sound: false, desktop: 'never' } };
const IDLE_TIMEOUT_MS = 30_000;

test.use({ feedOptions: { offerTimeoutSec: 600, rerouteGraceSec: 600 } });

test('an idle worker stops when the feed is down, wakes on its own, reconnects, and has lost nothing', async ({ feed }) => {
  test.setTimeout(360_000);
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'deskbell-idle-'));
  const browserProcess = spawn(CHROMIUM, ['--headless=new', ...CHROMIUM_ARGS, `--user-data-dir=${userDataDir}`, '--remote-debugging-port=0', 'about:blank'], { stdio: 'ignore', detached: true });
  try {
    const endpoint = `http://127.0.0.1:${await devToolsPort(userDataDir)}`;
    /** Ids of the worker's DevTools targets: a new id is a new start. */
    const workers = async (): Promise<string[]> => {
      const targets = (await (await fetch(`${endpoint}/json/list`)).json()) as { id: string; type: string; url: string }[];
      return targets.filter((t) => t.type === 'service_worker' && t.url.endsWith('/background.js')).map((t) => t.id);
    };
    const agentConnected = async () => (await feed.api<{ connected: boolean }>('GET', `/api/agents/${AGENT.id}`)).body.connected;

    // Set up as an admin would, then let go: no attachment from here on.
    const first = await attach(endpoint, async (popup) => {
      await popup.evaluate(
        (settings) => chrome.storage.local.set({ settings }),
        { crmSites: [CRM_SITE], feedUrl: feed.url, feedToken: AGENT.token, templates: LONG_ALERTS },
      );
      await expect.poll(agentConnected).toBe(true);
      const { body } = await feed.createConversation(chat('Before Outage'));
      await expect.poll(() => offerNames(popup)).toEqual(['Before Outage']);
      return body.conversation.id;
    });
    const [running] = await workers();
    expect(running).toBeDefined();

    // Connected: the feed's heartbeat keeps the worker running past Chrome's idle timeout.
    await new Promise((r) => setTimeout(r, IDLE_TIMEOUT_MS + 10_000));
    expect(await workers()).toEqual([running]);
    expect(await agentConnected()).toBe(true);

    // The feed goes down: nothing happens, and Chrome stops the idle worker.
    const port = feed.server.port;
    await feed.server.close();
    // Up to ~30 s of timed retries, then 30 s idle; a wake alarm in between can add one more round.
    await expect.poll(workers, { timeout: 150_000, intervals: [1000] }).toEqual([]);

    // Back up, with a conversation that came in meanwhile. The wake alarm
    // starts the worker again, and it reconnects with no page or tab open.
    await feed.start(port);
    const { body } = await feed.createConversation(chat('During Outage'));
    await expect.poll(agentConnected, { timeout: 90_000, intervals: [1000] }).toBe(true);
    const [woken] = await workers();
    expect(woken).toBeDefined();
    expect(woken).not.toBe(running);

    // The offer from before the stop is still up, the new one arrived, once each.
    await attach(endpoint, async (popup) => {
      await expect.poll(() => offerNames(popup)).toEqual(['Before Outage', 'During Outage']);
    });
    expect((await feed.api('GET', `/api/conversations/${first}`)).body.conversation.status).toBe('offered');
    expect((await feed.api('GET', `/api/conversations/${body.conversation.id}`)).body.conversation.status).toBe('offered');
  } finally {
    // Chromium's helper processes write the profile while they shut down: end the whole process
    // group (the browser was started as its leader), and remove the profile once they are gone.
    const exited = browserProcess.exitCode !== null ? Promise.resolve() : new Promise((resolve) => browserProcess.once('exit', resolve));
    try {
      process.kill(-browserProcess.pid!, 'SIGKILL');
    } catch {
      browserProcess.kill('SIGKILL');
    }
    await exited;
    rmSync(userDataDir, { recursive: true, force: true, maxRetries: 20, retryDelay: 250 });
  }
});

/** Chromium writes the port it chose to this file once it listens. */
async function devToolsPort(userDataDir: string): Promise<number> {
  for (let i = 0; i < 100; i++) {
    try {
      return Number(readFileSync(path.join(userDataDir, 'DevToolsActivePort'), 'utf8').split('\n')[0]);
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('Chromium did not open its DevTools port');
}

/** Attaches Playwright, runs `body` in the extension's popup page, and detaches again (the browser keeps running). */
async function attach<T>(endpoint: string, body: (popup: import('@playwright/test').Page) => Promise<T>): Promise<T> {
  const browser: Browser = await chromium.connectOverCDP(endpoint);
  try {
    const context = browser.contexts()[0]!;
    const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker'));
    const popup = await context.newPage();
    await popup.goto(`chrome-extension://${new URL(worker.url()).host}/popup.html`);
    const result = await body(popup);
    await popup.close();
    return result;
  } finally {
    await browser.close();
  }
}

async function offerNames(popup: import('@playwright/test').Page): Promise<string[]> {
  const state = (await popup.evaluate(async () => (await chrome.storage.session.get('feedState'))['feedState'])) as FeedState | undefined;
  return Object.values(state?.offers ?? {})
    .filter((o) => o.status === 'offered')
    .sort((a, b) => a.seq - b.seq)
    .map((o) => o.conversation.customer.name);
}
