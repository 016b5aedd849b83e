/**
 * Accessibility audits with axe-core of every surface the agent and the admin
 * use, in both themes: the overlay (toast, alert, several cards, reject
 * reasons open), the side panel (summary, chat, several sessions, offline),
 * the options page and the popup. WCAG 2.2 AA, zero violations.
 *
 * The overlay's shadow root is closed in every build but the audit build
 * (`npm run build:audit`), which this file loads: axe cannot read a closed root.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { chromium, type Page } from '@playwright/test';
import { AGENT, AUDIT_EXTENSION_PATH, CHROMIUM, chromiumArgs, expect, POLICY_DIR, test, unpackedExtensionId } from './fixtures';
import { PanelPage } from './panel-page';
import { chat, connect, openCrm } from './steps';

test.use({ extensionPath: AUDIT_EXTENSION_PATH });

/** The rule sets run: WCAG 2.0, 2.1 and 2.2, levels A and AA. */
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
/** Rules that must have run and passed on every surface: proof the audit saw the UI, not an empty page. */
const MUST_RUN = ['color-contrast', 'button-name', 'aria-allowed-attr', 'aria-valid-attr-value', 'target-size'];

const OVERLAY = '[data-deskbell-overlay]';

async function audit(page: Page, include?: string): Promise<void> {
  const results = await new AxeBuilder({ page })
    .withTags(TAGS)
    .include(include ?? 'html')
    // The overlay's colours are measured on a copy (below).
    .disableRules(include === OVERLAY ? ['color-contrast'] : [])
    .analyze();
  const findings = [...results.violations, ...results.incomplete];
  const ran = [...results.passes, ...findings].map((r) => r.id);
  if (include === OVERLAY) {
    // axe works colours out on its own grid of boxes, built from <body> down, and the overlay's host
    // lives outside <body> (in the top layer): there every colour is "undetermined". So the contrast
    // rule runs on a copy of the overlay's shadow tree, same markup and style sheets, inside <body>.
    await page.evaluate((selector) => {
      const root = document.querySelector(selector)!.shadowRoot!;
      const copy = document.createElement('div');
      copy.id = 'audit-copy';
      const shadow = copy.attachShadow({ mode: 'open' });
      shadow.adoptedStyleSheets = root.adoptedStyleSheets;
      for (const node of root.childNodes) shadow.append(node.cloneNode(true));
      document.body.append(copy);
    }, OVERLAY);
    const contrast = await new AxeBuilder({ page }).withRules(['color-contrast']).include('#audit-copy').analyze();
    await page.evaluate(() => document.getElementById('audit-copy')?.remove());
    findings.push(...contrast.violations, ...contrast.incomplete);
    ran.push(...contrast.passes.map((r) => r.id));
  }
  // Violations, and what axe could not decide alone: both must be none.
  const described = findings.map((r) => ({
    rule: r.id,
    help: r.help,
    nodes: r.nodes.map((n) => `${n.target.join(' ')}: ${[...n.any, ...n.all, ...n.none].map((c) => c.message).join('; ')}`),
  }));
  expect(described).toEqual([]);
  // Proof the audit saw the UI, not an empty page; the rules that ran are attached to the report.
  expect(ran).toEqual(expect.arrayContaining(MUST_RUN));
  await test.info().attach(`axe rules run${include ? ` on ${include}` : ''}`, { body: JSON.stringify([...new Set(ran)].sort(), null, 1), contentType: 'application/json' });
}

/** Both themes in one browser per surface: a browser and its setup cost more than an audit. */
const THEMES = ['dark', 'light'] as const;

test('overlay: toast, alerts, a stack and reject reasons pass axe (WCAG 2.2 AA), dark and light', async ({ context, extension, feed, crm }) => {
  await extension.updateSettings({ theme: 'dark', templates: { chat: { rejectReasons: ['Busy with another customer', 'Wrong queue'] } } });
  const { page, overlay } = await openCrm(context, crm.url());
  await connect(extension, feed);
  // Alerts and a toast, more than fit: the stack with "+N more".
  await feed.createConversation(chat('Maria Jansen'));
  await feed.createConversation({ scenario: 'transfer', customer: { name: 'Sam Lee' }, comment: 'Billing question', context: { fromAgent: 'Jo Park', reason: 'Needs billing' } });
  for (const name of ['Ana Silva', 'Yusuf Demir']) await feed.createConversation(chat(name));
  // Three cards show before the fourth offer arrives: wait for the fourth, under "+1 more".
  await expect.poll(() => overlay.evaluate<string>(`function () { return this.querySelector('button.more')?.textContent ?? ''; }`)).toMatch(/^\+1 more/);
  expect(await overlay.cards()).toHaveLength(3);
  expect(new Set((await overlay.cards()).map((c) => c.kind))).toEqual(new Set(['alert', 'toast']));
  await page.waitForTimeout(600); // the slide-in: contrast is measured on the settled cards
  const inTheme = async (theme: (typeof THEMES)[number]) => {
    await extension.updateSettings({ theme });
    await expect.poll(() => overlay.theme()).toContain(`theme-${theme}`);
  };
  for (const theme of THEMES) {
    await inTheme(theme);
    await audit(page, OVERLAY);
  }

  // Reject reasons open on the newest alert.
  const alert = (await overlay.cards()).find((c) => c.kind === 'alert')!;
  await overlay.click('button.reject', alert.id);
  await expect.poll(() => overlay.evaluate<string[]>(`function () { return [...this.querySelectorAll('.reasons button')].map((b) => b.textContent); }`)).toContain('Cancel');
  for (const theme of [...THEMES].reverse()) {
    await inTheme(theme);
    await audit(page, OVERLAY);
  }
});

test('side panel: summary, chat, several sessions and the offline banner pass axe, dark and light', async ({ context, extension, feed, crm }) => {
  await extension.updateSettings({ theme: 'dark', templates: { chat: { autoAccept: true }, sms: { autoAccept: true } } });
  await openCrm(context, crm.url());
  await connect(extension, feed);
  const { body } = await feed.createConversation({ scenario: 'sms', customer: { name: 'Maria Jansen', phone: '+31 6 12345678' }, comment: 'Double charge', queue: 'Billing' });
  await feed.createConversation(chat('Sam Lee', 'Where is my order?'));
  const panel = await PanelPage.open(context, extension.id);
  await expect(panel.tabs()).toHaveCount(2);
  await feed.api('POST', `/api/conversations/${body.conversation.id}/messages`, { text: 'It was on the 3rd. See https://bank.example/tx/991' });
  await panel.tab('Maria Jansen').click();
  await panel.send('Sorry about that, refunding now.');
  await expect(panel.messages()).toHaveCount(3);
  const inTheme = async (theme: (typeof THEMES)[number]) => {
    await extension.updateSettings({ theme });
    await expect(panel.page.locator('html')).toHaveClass(`theme-${theme}`);
  };
  for (const theme of THEMES) {
    await inTheme(theme);
    await audit(panel.page);
  }

  // The feed goes away: the offline banner.
  await feed.server.close();
  await expect(panel.page.locator('.offline')).toBeVisible();
  for (const theme of [...THEMES].reverse()) {
    await inTheme(theme);
    await audit(panel.page);
  }
});

test('popup and options page pass axe, dark and light', async ({ context, extension, feed }) => {
  await connect(extension, feed);
  const popup = await context.newPage();
  await popup.goto(`chrome-extension://${extension.id}/popup.html`);
  await expect(popup.getByRole('main')).toBeVisible();
  const options = await context.newPage();
  await options.goto(`chrome-extension://${extension.id}/options.html`);
  await expect(options.getByRole('main')).toBeVisible();
  for (const theme of THEMES) {
    await extension.updateSettings({ theme });
    // The popup follows the system's colour scheme.
    await popup.emulateMedia({ colorScheme: theme });
    await audit(popup);
    await expect(options.locator('html')).toHaveClass(`theme-${theme}`);
    await audit(options);
  }
});

test.describe('enterprise policy', () => {
  const policyFile = path.join(POLICY_DIR, 'deskbell-a11y.json');
  const writePolicy = (values: Record<string, unknown>) =>
    writeFileSync(policyFile, JSON.stringify({ '3rdparty': { extensions: { [unpackedExtensionId(AUDIT_EXTENSION_PATH)]: values } } }));
  test.afterEach(() => rmSync(policyFile, { force: true }));

  test('the options page with settings locked by policy passes axe, dark and light', async ({ feed }) => {
    mkdirSync(POLICY_DIR, { recursive: true });
    writePolicy({ FeedUrl: feed.url, FeedToken: AGENT.token, Theme: 'dark', CrmSites: ['http://127.0.0.1/*'] });
    const userDataDir = mkdtempSync(path.join(tmpdir(), 'deskbell-a11y-policy-'));
    const context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: chromiumArgs(AUDIT_EXTENSION_PATH) });
    try {
      const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker'));
      const options = await context.newPage();
      await options.goto(`chrome-extension://${new URL(worker.url()).host}/options.html`);
      await expect(options.locator('[data-setting=feedUrl] .lock')).toHaveText('Set by your organization');
      await expect(options.getByLabel('Feed URL')).toBeDisabled();
      await expect(options.locator('html')).toHaveClass('theme-dark');
      await audit(options);

      writePolicy({ FeedUrl: feed.url, FeedToken: AGENT.token, Theme: 'light', CrmSites: ['http://127.0.0.1/*'] });
      const policyPage = await context.newPage();
      await policyPage.goto('chrome://policy');
      await policyPage.getByRole('button', { name: /reload policies/i }).click();
      await expect(options.locator('html')).toHaveClass('theme-light', { timeout: 15_000 });
      await audit(options);
    } finally {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    }
  });
});
