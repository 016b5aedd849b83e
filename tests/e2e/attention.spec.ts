import type { BrowserContext, Page } from '@playwright/test';
import { AGENT, CRM_SITE, expect, type ExtensionHandle, type Feed, test, withHeadedChromium } from './fixtures';
import { OverlayPage } from './overlay-page';
import { sidePanelIsOpen } from './panel-page';

const chat = (name = 'Maria Jansen') => ({ scenario: 'chat', customer: { name }, comment: 'Where is my order?' });

async function extensionPage(context: BrowserContext, extension: ExtensionHandle): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`chrome-extension://${extension.id}/popup.html`);
  return page;
}

async function crmPage(context: BrowserContext, url: string): Promise<OverlayPage> {
  const page = await context.newPage();
  await page.goto(url);
  const overlay = new OverlayPage(page);
  await expect.poll(() => overlay.hostCount()).toBe(1);
  return overlay;
}

async function connect(extension: ExtensionHandle, feed: Feed) {
  await extension.configureFeed(feed.url);
  await expect.poll(async () => (await extension.diagnostics())?.connection.status).toBe('open');
}

const notificationIds = (page: Page) => page.evaluate(async () => Object.keys(await chrome.notifications.getAll()));
const badge = (page: Page) => page.evaluate(() => chrome.action.getBadgeText({}));
const status = async (feed: Feed, id: string) => (await feed.api('GET', `/api/conversations/${id}`)).body.conversation.status as string;

test('a desktop notification shows while no CRM tab is in view, and is cleared when one is or the offer resolves', async ({ context, extension, feed, crm }) => {
  await connect(extension, feed);
  const ext = await extensionPage(context, extension);
  const { body } = await feed.createConversation(chat());
  await expect.poll(() => notificationIds(ext)).toEqual([expect.stringMatching(/^offer:/)]);
  const badgeText = await badge(ext);
  expect(badgeText).toBe('1');

  // A CRM tab comes into view: the overlay shows the alert, so the notification goes.
  const overlay = await crmPage(context, crm.url());
  await expect.poll(() => overlay.cards()).toHaveLength(1);
  await expect.poll(() => notificationIds(ext)).toEqual([]);

  // With the template set to 'always', an offer that arrives then notifies even with the tab in view, until it is
  // answered. How an offer shows is decided when it arrives: the one already on screen keeps its rule.
  await extension.updateSettings({ templates: { chat: { desktop: 'always' } } });
  const second = await feed.createConversation(chat('Tom Becker'));
  await expect.poll(() => overlay.cards()).toHaveLength(2);
  await expect.poll(() => notificationIds(ext)).toHaveLength(1);
  const tom = (await overlay.cards()).find((c) => c.customer === 'Tom Becker')!;
  await overlay.page.bringToFront();
  await overlay.click('button.accept', tom.id);
  await expect.poll(() => status(feed, second.body.conversation.id)).toBe('active');
  await expect.poll(() => notificationIds(ext)).toEqual([]);
  await overlay.click('button.accept');
  await expect.poll(() => status(feed, body.conversation.id)).toBe('active');
  await expect.poll(() => badge(ext)).toBe('');
});

test('the badge counts the offers waiting', async ({ context, extension, feed, crm }) => {
  await connect(extension, feed);
  const overlay = await crmPage(context, crm.url());
  const ext = await extensionPage(context, extension);
  await feed.createConversation(chat('Ann'));
  await feed.createConversation(chat('Ben'));
  await expect.poll(() => badge(ext)).toBe('2');
  await overlay.page.bringToFront();
  await overlay.click('button.reject');
  await expect.poll(() => badge(ext)).toBe('1');
});

test('the toolbar button says when the feed is not set or down, and why', async ({ context, extension, feed }) => {
  const ext = await extensionPage(context, extension);
  const title = () => ext.evaluate(() => chrome.action.getTitle({}));
  const color = () => ext.evaluate(() => chrome.action.getBadgeBackgroundColor({}));
  // Nothing set yet.
  await expect.poll(() => badge(ext)).toBe('!');
  expect(await title()).toBe('Deskbell · Not connected: No feed URL is set.');

  await connect(extension, feed);
  await expect.poll(() => badge(ext)).toBe('');
  expect(await title()).toBe('Deskbell');

  await feed.createConversation(chat('Ann'));
  await expect.poll(() => badge(ext)).toBe('1');
  const online = await color();
  await feed.server.close();
  // The count stays; the colour and the tooltip say the feed is gone.
  await expect.poll(title).toMatch(/^Deskbell · (Reconnecting…|Connecting…): /);
  expect(await badge(ext)).toBe('1');
  expect(await color()).not.toEqual(online);
});

test('the ringtone plays from the offscreen document until the alert is answered, and survives the document being closed', async ({ context, extension, feed, crm }) => {
  await connect(extension, feed);
  const overlay = await crmPage(context, crm.url());
  const ext = await extensionPage(context, extension);
  const offscreenCount = () => ext.evaluate(async () => (await chrome.runtime.getContexts({ contextTypes: ['OFFSCREEN_DOCUMENT' as chrome.runtime.ContextType] })).length);

  await feed.createConversation(chat());
  await expect.poll(async () => (await extension.diagnostics()).sound).toEqual({ playing: true, sound: 'ring', loop: true, volume: 80 });
  expect(await offscreenCount()).toBe(1);

  // Chrome may close the offscreen document; the ringing comes back.
  const cdp = await context.browser()!.newBrowserCDPSession();
  const { targetInfos } = await cdp.send('Target.getTargets');
  const offscreen = targetInfos.find((t) => t.url === `chrome-extension://${extension.id}/offscreen.html`);
  expect(offscreen).toBeDefined();
  await cdp.send('Target.closeTarget', { targetId: offscreen!.targetId });
  await cdp.detach();
  await expect.poll(async () => (await extension.diagnostics()).sound?.playing).toBe(false);
  await expect.poll(async () => (await extension.diagnostics()).sound?.playing).toBe(true);
  expect(await offscreenCount()).toBe(1);

  await overlay.page.bringToFront();
  await overlay.click('button.reject');
  await expect.poll(async () => (await extension.diagnostics()).sound).toEqual({ playing: false });
});

test('keyboard shortcuts accept and reject the newest alert from the CRM tab (real key presses, headed Chromium on Xvfb)', async ({ feed, crm }) => {
  // Extension shortcuts are browser accelerators: only real key input reaches them,
  // so this test drives a headed Chromium on a virtual X display with xdotool.
  await withHeadedChromium(async (context, id, press) => {
    const ext = await context.newPage();
    await ext.goto(`chrome-extension://${id}/popup.html`);
    // Chrome assigns a suggested key only when it does not clash with one of its own.
    expect(await ext.evaluate(async () => Object.fromEntries((await chrome.commands.getAll()).map((c) => [c.name, c.shortcut])))).toMatchObject({
      'accept-newest': 'Alt+Shift+Y',
      'reject-newest': 'Alt+Shift+K',
      'open-panel': 'Alt+Shift+D',
      'focus-cards': 'Alt+Shift+J',
    });
    await ext.evaluate(
      async ([url, token, site]) => chrome.storage.local.set({ settings: { feedUrl: url, feedToken: token, crmSites: [site] } }),
      [feed.url, AGENT.token, CRM_SITE] as const,
    );
    const page = await context.newPage();
    await page.goto(crm.url());
    const overlay = new OverlayPage(page);
    const ann = await feed.createConversation(chat('Ann'));
    const ben = await feed.createConversation(chat('Ben'));
    await expect.poll(async () => (await overlay.cards()).map((c) => c.customer)).toEqual(['Ann', 'Ben']);
    await page.bringToFront();
    await page.locator('#notes').click();

    // The focus shortcut takes the keyboard to the newest card; Escape gives it back to the field.
    press('alt+shift+j');
    const focused = `function () { const a = this.activeElement; return a ? a.textContent + ' @ ' + a.closest('[data-card-id]').querySelector('.customer').textContent : ''; }`;
    await expect.poll(() => overlay.evaluate<string>(focused)).toBe('Accept @ Ben');
    press('Escape');
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('notes');
    expect(await overlay.evaluate<string>(focused)).toBe('');

    press('alt+shift+y');
    await expect.poll(() => status(feed, ben.body.conversation.id)).toBe('active');
    await expect.poll(() => sidePanelIsOpen(context, id)).toBe(true);
    await expect.poll(async () => (await overlay.cards()).map((c) => c.customer)).toEqual(['Ann']);

    await page.bringToFront();
    await page.locator('#notes').click();
    press('alt+shift+k');
    await expect.poll(() => overlay.cards()).toHaveLength(0);
    expect(await status(feed, ann.body.conversation.id)).not.toBe('active');
  });
});

test('an auto-accept template takes the conversation without a click; a toast opens it', async ({ context, extension, feed, crm }) => {
  await extension.updateSettings({ templates: { chat: { autoAccept: true } } });
  await connect(extension, feed);
  const overlay = await crmPage(context, crm.url());
  const { body } = await feed.createConversation(chat());
  await expect.poll(() => status(feed, body.conversation.id)).toBe('active');
  await expect.poll(() => overlay.cards()).toHaveLength(1);
  const [card] = await overlay.cards();
  expect(card).toMatchObject({ kind: 'toast', buttons: [], countdown: '' });
  await overlay.page.bringToFront();
  await overlay.click('.main', card!.id);
  await expect.poll(() => overlay.cards()).toHaveLength(0);
  await expect.poll(() => sidePanelIsOpen(context, extension.id)).toBe(true);
});

test('a reject reason chosen by the agent reaches the feed server', async ({ context, extension, feed, crm }) => {
  await extension.updateSettings({ templates: { chat: { rejectReasons: ['Busy with a customer', 'Wrong skill'] } } });
  await connect(extension, feed);
  const overlay = await crmPage(context, crm.url());
  const { body } = await feed.createConversation(chat());
  await expect.poll(() => overlay.cards()).toHaveLength(1);
  await overlay.page.bringToFront();
  await overlay.click('button.reject');
  await expect.poll(() => overlay.evaluate<string[]>(`function () { return [...this.querySelectorAll('.reasons button')].map((b) => b.textContent); }`)).toEqual([
    'Busy with a customer',
    'Wrong skill',
    'Cancel',
  ]);
  await overlay.click('.reasons .reason:nth-child(2)');
  await expect.poll(() => overlay.cards()).toHaveLength(0);
  const offers = (await feed.api('GET', `/api/conversations/${body.conversation.id}`)).body.offers as { state: string; reason: string }[];
  expect(offers[0]).toMatchObject({ state: 'rejected', reason: 'Wrong skill' });
});
