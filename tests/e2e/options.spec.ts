import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium, type Page } from '@playwright/test';
import { AGENT, CHROMIUM, CHROMIUM_ARGS, CRM_SITE, expect, EXTENSION_PATH, readmeShot, test, unpackedExtensionId, withHeadedChromium } from './fixtures';
import { OverlayPage } from './overlay-page';

async function openOptions(context: BrowserContext, extensionId: string): Promise<Page> {
  const page = await context.newPage();
  await page.setViewportSize({ width: 900, height: 1000 });
  await page.goto(`chrome-extension://${extensionId}/options.html`);
  await expect(page.getByRole('heading', { name: 'Deskbell settings' })).toBeVisible();
  return page;
}

test('an admin sets the feed on the options page; a bad URL is refused and nothing is saved', async ({ context, extension, feed }) => {
  const options = await openOptions(context, extension.id);
  await options.getByLabel('Feed URL').fill('ws://feed.example.com/feed');
  await options.getByLabel('Agent token').fill(AGENT.token);
  await options.getByRole('button', { name: 'Save' }).click();
  await expect(options.locator('[data-setting=feedUrl] .error')).toHaveText('Unencrypted ws:// is allowed only for localhost; use wss://.');
  await expect(options.getByRole('status').filter({ hasText: 'Not saved' })).toBeVisible();
  await expect.poll(async () => (await extension.diagnostics())?.connection.lastError).toBe('No feed URL is set.');

  await options.getByLabel('Feed URL').fill(feed.url);
  await options.getByRole('button', { name: 'Save' }).click();
  await expect(options.getByText('Saved.')).toBeVisible();
  await expect(options.locator('[data-diag=connection]')).toHaveText(`Connected · ${AGENT.name}`);

  for (const theme of ['dark', 'light'] as const) {
    await options.getByLabel('Theme', { exact: true }).selectOption(theme);
    await options.getByRole('button', { name: 'Save' }).click();
    await expect(options.locator('html')).toHaveClass(`theme-${theme}`);
    await options.locator('details[data-scenario=chat] summary').click();
    await options.screenshot({ path: readmeShot(`options-${theme}.png`) });
    await options.locator('details[data-scenario=chat] summary').click();
  }
});

test('a CRM site added at runtime gets the overlay, in a tab that was already open', async ({ context, extension, feed, crm }) => {
  await extension.configureFeed(feed.url);
  const page = await context.newPage();
  await page.goto(crm.url().replace('127.0.0.1', 'localhost'));
  const overlay = new OverlayPage(page);
  await page.waitForTimeout(500);
  expect(await overlay.hostCount()).toBe(0);

  const options = await openOptions(context, extension.id);
  await options.getByLabel('Add a CRM site').fill('localhost:5173');
  await options.getByRole('button', { name: 'Add site' }).click();
  await expect(options.locator('#site-error')).toContainText('is not a site pattern');
  await options.getByLabel('Add a CRM site').fill('http://localhost/*');
  await options.getByRole('button', { name: 'Add site' }).click();
  await expect(options.locator('[data-site="http://localhost/*"]')).toBeVisible();

  await expect.poll(() => overlay.hostCount()).toBe(1);
  await feed.createConversation({ scenario: 'chat', customer: { name: 'Maria Jansen' }, comment: 'Hello from a new site' });
  await expect.poll(async () => (await overlay.cards()).map((c) => c.customer)).toEqual(['Maria Jansen']);

  // Removing the site takes the overlay away on the next load.
  await options.getByRole('button', { name: 'Remove http://localhost/*' }).click();
  await expect(options.locator('[data-site="http://localhost/*"]')).toHaveCount(0);
  await page.reload();
  await page.waitForTimeout(500);
  expect(await overlay.hostCount()).toBe(0);
});

test('switching the language to Dutch changes the overlay and the pages', async ({ context, extension, feed, crm }) => {
  await extension.configureFeed(feed.url);
  const page = await context.newPage();
  await page.goto(crm.url());
  const overlay = new OverlayPage(page);
  const options = await openOptions(context, extension.id);
  await options.getByLabel('Language', { exact: true }).selectOption('nl');
  await options.getByRole('button', { name: 'Save' }).click();
  await expect(options.getByRole('heading', { name: 'Deskbell-instellingen' })).toBeVisible();

  await feed.createConversation({ scenario: 'chat', customer: { name: 'Maria Jansen' }, comment: 'Hallo', waitedSec: 35 });
  await expect.poll(() => overlay.cards()).toHaveLength(1);
  const [card] = await overlay.cards();
  expect(card).toMatchObject({ title: 'Inkomende chat', buttons: ['Aannemen', 'Weigeren'] });
  expect(card!.meta).toMatch(/^Wacht 0:3\d/);
});

test('the popup sets the agent status: a busy agent gets no offers until available again', async ({ context, extension, feed, crm }) => {
  await extension.configureFeed(feed.url);
  const page = await context.newPage();
  await page.goto(crm.url());
  const overlay = new OverlayPage(page);
  const popup = await context.newPage();
  await popup.goto(`chrome-extension://${extension.id}/popup.html`);
  await expect(popup.locator('[data-status=open]')).toBeVisible();
  await popup.getByLabel('Busy').check();
  await expect.poll(async () => (await feed.api('GET', '/api/agents/agent-1')).body.connected).toBe(true);
  await feed.createConversation({ scenario: 'chat', customer: { name: 'Tom Becker' }, comment: 'Anyone?' });
  await page.waitForTimeout(800);
  expect(await overlay.cards()).toHaveLength(0);

  await popup.getByLabel('Available').check();
  await expect.poll(async () => (await overlay.cards()).map((c) => c.customer)).toEqual(['Tom Becker']);
  await expect(popup.getByText('Tom Becker')).toBeVisible();
});

test.describe('enterprise policy', () => {
  const policyDir = '/etc/chromium/policies/managed';
  const policyFile = path.join(policyDir, 'deskbell-e2e.json');
  const writePolicy = (values: Record<string, unknown>) =>
    writeFileSync(policyFile, JSON.stringify({ '3rdparty': { extensions: { [unpackedExtensionId(EXTENSION_PATH)]: values } } }));

  test.afterEach(() => rmSync(policyFile, { force: true }));

  test('a Linux managed-policy file locks settings, an invalid value is ignored, and a late change applies without a reload', async ({ feed }) => {
    mkdirSync(policyDir, { recursive: true });
    // Chrome drops values its schema refuses (Language); Deskbell ignores, and reports, values it refuses (DefaultRegion).
    writePolicy({ FeedUrl: feed.url, FeedToken: AGENT.token, Theme: 'dark', Language: 'klingon', DefaultRegion: 'Netherlands', CrmSites: ['http://127.0.0.1/*'] });
    const userDataDir = mkdtempSync(path.join(tmpdir(), 'deskbell-policy-'));
    const context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    try {
      const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker'));
      const id = new URL(worker.url()).host;
      expect(id).toBe(unpackedExtensionId(EXTENSION_PATH));

      const options = await openOptions(context, id);
      await expect(options.getByLabel('Feed URL')).toHaveValue(feed.url);
      await expect(options.getByLabel('Feed URL')).toBeDisabled();
      await expect(options.locator('[data-setting=feedUrl] .lock')).toHaveText('Set by your organization');
      await expect(options.getByLabel('Theme', { exact: true })).toBeDisabled();
      await expect(options.getByLabel('Theme', { exact: true })).toHaveValue('dark');
      await expect(options.getByLabel('Language', { exact: true })).toBeEnabled();
      await expect(options.getByLabel('Default phone region')).toBeEnabled();
      await expect(options.getByRole('alert').filter({ hasText: 'DefaultRegion' })).toContainText('two-letter country code');
      await expect(options.locator('[data-diag=connection]')).toHaveText(`Connected · ${AGENT.name}`);
      await options.screenshot({ path: readmeShot('options-policy.png') });

      // The admin changes the policy while the browser runs; Chrome reloads it.
      writePolicy({ FeedUrl: feed.url, FeedToken: AGENT.token, Theme: 'light', CrmSites: ['http://127.0.0.1/*'] });
      const policyPage = await context.newPage();
      await policyPage.goto('chrome://policy');
      await policyPage.getByRole('button', { name: /reload policies/i }).click();
      await expect(options.getByLabel('Theme', { exact: true })).toHaveValue('light', { timeout: 15_000 });
      await expect(options.locator('html')).toHaveClass('theme-light');
      await expect(options.getByRole('alert').filter({ hasText: 'DefaultRegion' })).toHaveCount(0);
    } finally {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    }
  });
});

test('site access revoked in chrome://extensions: the overlay leaves those tabs, the options page says so, and no offer is lost (headed, real prompt)', async ({ feed, crm }) => {
  // A granted optional host permission needs a real prompt, answered with real
  // keys; crm.test is the fake CRM under a name no built-in pattern covers.
  const port = new URL(crm.url()).port;
  await withHeadedChromium(
    async (context, id, press) => {
      const options = await openOptions(context, id);
      await options.evaluate(
        async ([url, token, site]) =>
          chrome.storage.local.set({ settings: { feedUrl: url, feedToken: token, crmSites: [site], templates: { chat: { timeoutSec: 600, sound: false, desktop: 'never' } } } }),
        [feed.url, AGENT.token, CRM_SITE] as const,
      );
      await options.reload();
      await options.getByLabel('Add a CRM site').fill('http://crm.test/*');
      await options.getByRole('button', { name: 'Add site' }).click();
      await answerPermissionPrompt(options, press);
      await expect(options.locator('[data-site="http://crm.test/*"]')).toBeVisible();
      expect(await options.evaluate(() => chrome.permissions.contains({ origins: ['http://crm.test/*'] }))).toBe(true);

      const onSite = await context.newPage();
      await onSite.goto(`http://crm.test:${port}/`);
      const onLocal = await context.newPage();
      await onLocal.goto(crm.url());
      const overlays = [new OverlayPage(onSite), new OverlayPage(onLocal)];
      const { body } = await feed.createConversation({ scenario: 'chat', customer: { name: 'Maria Jansen' }, comment: 'Still there?' });
      for (const overlay of overlays) await expect.poll(async () => (await overlay.cards()).map((c) => c.customer)).toEqual(['Maria Jansen']);

      // The agent takes site access away: "Automatically allow access" off, then 127.0.0.1 allowed again.
      const extensions = await context.newPage();
      await extensions.goto(`chrome://extensions/?id=${id}`);
      await extensions.getByRole('switch', { name: 'Automatically allow access on the following sites' }).click();
      for (const overlay of overlays) await expect.poll(() => overlay.hostCount()).toBe(0);
      await extensions.getByRole('switch', { name: 'http://127.0.0.1/*' }).click();
      await expect.poll(() => options.evaluate(() => chrome.permissions.contains({ origins: ['http://127.0.0.1/*'] }))).toBe(true);

      await options.bringToFront();
      await expect(options.locator('[data-site="http://crm.test/*"]')).toContainText('no access');
      await expect(options.locator('[data-site="http://127.0.0.1/*"]')).not.toContainText('no access');
      await options.locator('ul.sites').screenshot({ path: 'test-results/options-site-no-access.png' });
      // Access allowed again: the overlay comes back to that open tab, with the offer still up; not where access is still off.
      await expect.poll(async () => (await overlays[1]!.cards()).map((c) => c.customer)).toEqual(['Maria Jansen']);
      await onSite.reload();
      await onSite.waitForTimeout(1000);
      expect(await overlays[0]!.hostCount()).toBe(0);
      expect((await feed.api('GET', `/api/conversations/${body.conversation.id}`)).body.conversation.status).toBe('offered');

      // The agent grants it again from the options page: a prompt, and the overlay is back in that tab.
      await options.getByRole('button', { name: 'Grant access to http://crm.test/*' }).click();
      await answerPermissionPrompt(options, press);
      await expect(options.locator('[data-site="http://crm.test/*"]')).not.toContainText('no access');
      await expect.poll(async () => (await overlays[0]!.cards()).map((c) => c.customer)).toEqual(['Maria Jansen']);
    },
    ['--host-resolver-rules=MAP crm.test 127.0.0.1'],
  );
});

/**
 * Allows Chrome's permission prompt with real keys: Tab to Allow, Enter. The
 * prompt is drawn inside the browser window, so nothing tells when it is up;
 * it gets two seconds.
 */
async function answerPermissionPrompt(page: Page, press: (keys: string, into: 'dialog') => void): Promise<void> {
  await page.waitForTimeout(2000);
  press('Tab', 'dialog');
  press('Return', 'dialog');
}
