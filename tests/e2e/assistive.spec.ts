/**
 * Kind to the agent's hands and eyes: typing that is never taken, what screen
 * readers hear and when, the keyboard in the side panel, a narrow zoomed
 * panel, forced colours, reduced motion and right-to-left text. (The axe
 * audits are in a11y.spec.ts; the focus shortcut in attention.spec.ts.)
 */
import type { Page } from '@playwright/test';
import { expect, test } from './fixtures';
import { PanelPage } from './panel-page';
import { chat, connect, conversationStatus, openCrm } from './steps';

/** Samples a text every `everyMs` for `forMs`; returns the distinct values in order. */
async function watch(read: () => Promise<string>, forMs: number, everyMs = 150): Promise<string[]> {
  const seen: string[] = [];
  for (const end = Date.now() + forMs; Date.now() < end; ) {
    const value = await read();
    if (seen.at(-1) !== value) seen.push(value);
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return seen;
}

test('every character typed into a CRM field while offers and a toast arrive lands in the field; nothing is answered', async ({ context, extension, feed, crm }) => {
  const { page, overlay } = await openCrm(context, crm.url());
  await connect(extension, feed);
  await page.locator('#notes').click();
  const text =
    'Customer called about invoice 2026-0193: charged twice on the 3rd. Refund one charge; confirm by SMS. ' +
    'Keys that would act on a card if it took them: Enter, space, Escape, y n k r a 1 2 3. ' +
    'Done.';
  const offers: Promise<unknown>[] = [];
  const arrivals = (async () => {
    for (const name of ['Ann', 'Ben', 'Cas', 'Dee']) {
      await new Promise((r) => setTimeout(r, 600));
      offers.push(feed.createConversation(chat(name)));
    }
    await new Promise((r) => setTimeout(r, 400));
    offers.push(feed.createConversation({ scenario: 'transfer', customer: { name: 'Eve' }, comment: 'Handed over', context: { fromAgent: 'Jo Park' } }));
  })();
  // Real key events (CDP input), one every 15 ms, Enter and Escape among them.
  await page.keyboard.type(text.slice(0, 120), { delay: 15 });
  await page.keyboard.press('Enter');
  await page.keyboard.type(text.slice(120), { delay: 15 });
  await page.keyboard.press('Escape');
  await page.keyboard.press('Space');
  await arrivals;
  await expect.poll(async () => (await overlay.cards()).length).toBe(3); // three shown, the rest folded
  await expect(page.locator('#notes')).toHaveValue(`${text.slice(0, 120)}\n${text.slice(120)} `);
  expect(await page.evaluate(() => document.activeElement?.id)).toBe('notes');
  expect(await overlay.evaluate<string>('function () { return this.activeElement?.outerHTML ?? ""; }')).toBe('');
  // No key reached a card: every offer is still open, no reject reasons opened, the toast is still up.
  const created = (await Promise.all(offers)) as { body: { conversation: { id: string } } }[];
  for (const { body } of created.slice(0, 4)) expect(await conversationStatus(feed, body.conversation.id)).toBe('offered');
  expect(await overlay.evaluate<number>(`function () { return this.querySelectorAll('.reasons').length; }`)).toBe(0);
});

test('screen readers hear each offer once, with the time to answer, not every tick; the countdown can be read; answers are said', async ({ context, extension, feed, crm }) => {
  await extension.updateSettings({ templates: { chat: { timeoutSec: 45 } } });
  const { overlay } = await openCrm(context, crm.url());
  await connect(extension, feed);
  const { body } = await feed.createConversation(chat('Maria Jansen'));
  await expect.poll(() => overlay.liveRegion()).toMatch(/^Incoming chat from Maria Jansen\. (4[0-5]|30) seconds to answer\.$/);
  const said = await watch(() => overlay.liveRegion(), 3000);
  // Three seconds of countdown: the live region said it once and stayed.
  expect(said).toHaveLength(1);
  // The countdown is a timer: read on demand, with its label kept up to date, and not a live region.
  const timer = () => overlay.evaluate<string>(`function () { const t = this.querySelector('[role=timer]'); return t.getAttribute('aria-label') + '|' + (t.getAttribute('aria-live') ?? ''); }`);
  expect(await timer()).toMatch(/^0:\d\d left to answer\|$/);

  await overlay.click('button.accept');
  await expect.poll(() => overlay.liveRegion()).toBe('Accepted: Maria Jansen.');
  await expect.poll(() => conversationStatus(feed, body.conversation.id)).toBe('active');
});

test('the side panel says new customer messages politely, in any session; the agent\'s own are not read back', async ({ context, extension, feed, crm }) => {
  await extension.updateSettings({ templates: { chat: { autoAccept: true } } });
  await openCrm(context, crm.url());
  await connect(extension, feed);
  const maria = (await feed.createConversation(chat('Maria Jansen', 'Hello'))).body.conversation.id;
  const sam = (await feed.createConversation(chat('Sam Lee', 'Hi'))).body.conversation.id;
  const panel = await PanelPage.open(context, extension.id);
  await expect(panel.tabs()).toHaveCount(2);
  const live = () => panel.page.locator('[data-live=messages]').textContent().then((t) => t ?? '');
  expect(await live()).toBe('');
  await feed.api('POST', `/api/conversations/${maria}/messages`, { text: 'Are you there?' });
  await expect.poll(live).toBe('New message from Maria Jansen: Are you there?');
  await panel.send('Yes, one moment.');
  await expect(panel.messages().last()).toContainText('Yes, one moment.');
  await feed.api('POST', `/api/conversations/${sam}/messages`, { text: 'Order 991' });
  await expect.poll(live).toBe('New message from Sam Lee: Order 991');
  // The transcript itself is not a live region: switching sessions reads nothing out.
  expect(await panel.page.locator('.transcript').getAttribute('aria-live')).toBeNull();
});

test('keyboard only: the side panel\'s sessions are one tab stop, arrows move between them, and the composer is next', async ({ context, extension, feed, crm }) => {
  await extension.updateSettings({ templates: { chat: { autoAccept: true } } });
  await openCrm(context, crm.url());
  await connect(extension, feed);
  for (const name of ['Ann', 'Ben', 'Cas']) await feed.createConversation(chat(name));
  const panel = await PanelPage.open(context, extension.id);
  await expect(panel.tabs()).toHaveCount(3);
  await panel.tab('Ann').click();
  const focusedTab = () => panel.page.evaluate(() => (document.activeElement?.getAttribute('role') === 'tab' ? document.activeElement.textContent : ''));
  // A click on a tab puts the cursor in that session's draft; the keyboard reaches the tab list with Tab.
  await expect.poll(() => panel.page.evaluate(() => document.activeElement?.localName)).toBe('textarea');
  await panel.tab('Ann').focus();
  await panel.page.keyboard.press('ArrowRight');
  await expect.poll(focusedTab).toBe('Ben');
  await expect(panel.tab('Ben')).toHaveAttribute('aria-selected', 'true');
  await panel.page.keyboard.press('End');
  await expect.poll(focusedTab).toBe('Cas');
  await panel.page.keyboard.press('ArrowRight');
  await expect.poll(focusedTab).toBe('Ann');
  expect(await panel.tabs().evaluateAll((tabs) => tabs.map((t) => t.getAttribute('tabindex')))).toEqual(['0', '-1', '-1']);
  // Out of the tab list in one Tab, whatever the number of sessions; the focus ring shows.
  await panel.page.keyboard.press('Tab');
  expect(await panel.page.evaluate(() => document.activeElement?.getAttribute('role'))).not.toBe('tab');
  const outline = await panel.page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
  expect(outline).not.toBe('none');
});

async function noSideways(page: Page): Promise<void> {
  expect(await page.evaluate(() => document.scrollingElement!.scrollWidth - document.scrollingElement!.clientWidth)).toBeLessThanOrEqual(0);
}

test('a 320 px side panel at 200% zoom keeps the summary, the chat and the composer usable', async ({ context, extension, feed, crm }) => {
  await extension.updateSettings({ templates: { sms: { autoAccept: true } } });
  await openCrm(context, crm.url());
  await connect(extension, feed);
  await feed.createConversation({ scenario: 'sms', customer: { name: 'Maria Jansen-van der Berg', phone: '+31 6 12345678' }, comment: 'Hi, my invoice shows a double charge for October, reference INV-2026-000193.', queue: 'Billing' });
  const panel = await PanelPage.open(context, extension.id);
  // A 320 × 640 panel at 200% zoom is 160 × 320 CSS pixels.
  await panel.page.setViewportSize({ width: 160, height: 320 });
  await expect(panel.summary()).toBeVisible();
  await noSideways(panel.page);
  await panel.send('Refunding now.');
  await expect(panel.messages().last()).toContainText('Refunding now.');
  // Everything is reachable by scrolling the panel up and down, never sideways.
  await panel.page.getByRole('button', { name: 'Send' }).scrollIntoViewIfNeeded();
  await expect(panel.page.getByRole('button', { name: 'Send' })).toBeInViewport();
  await noSideways(panel.page);
  await panel.page.screenshot({ path: 'test-results/screenshots/sidepanel-320-zoom200.png' });
});

test('forced colours (Windows high contrast): buttons, card edges and the countdown stay visible; reduced motion stops the slide-in', async ({ context, extension, feed, crm }) => {
  const { page, overlay } = await openCrm(context, crm.url());
  await page.emulateMedia({ forcedColors: 'active', reducedMotion: 'reduce' });
  await connect(extension, feed);
  await feed.createConversation(chat('Maria Jansen'));
  await expect.poll(() => overlay.cards()).toHaveLength(1);
  const look = await overlay.evaluate<Record<string, string>>(`function () {
    const s = (sel) => getComputedStyle(this.querySelector(sel));
    return {
      accept: s('button.accept').borderTopStyle + ' ' + s('button.accept').borderTopWidth,
      reject: s('button.reject').borderTopStyle,
      card: s('.card').borderTopStyle,
      progress: s('.progress').borderTopStyle,
      countdown: s('.countdown').color,
      canvas: s('.card').backgroundColor,
      animation: s('.card').animationName,
      bar: s('.bar').transitionDuration,
    };
  }`);
  expect(look).toMatchObject({ accept: 'solid 2px', reject: 'solid', card: 'solid', progress: 'solid', animation: 'none', bar: '0s' });
  expect(look!.countdown).not.toBe(look!.canvas);
  await overlay.screenshot('test-results/screenshots/overlay-forced-colors.png');
});

test('right-to-left names and messages read right to left inside the left-to-right card and panel', async ({ context, extension, feed, crm }) => {
  await extension.updateSettings({ templates: { chat: { autoAccept: false } } });
  const { overlay } = await openCrm(context, crm.url());
  await connect(extension, feed);
  const { body } = await feed.createConversation(chat('مريم الحسن', 'مرحبا، طلبي رقم 991 لم يصل بعد'));
  await expect.poll(() => overlay.cards()).toHaveLength(1);
  const dirs = await overlay.evaluate<Record<string, string>>(`function () {
    const d = (sel) => getComputedStyle(this.querySelector(sel)).direction;
    const align = (sel) => getComputedStyle(this.querySelector(sel)).textAlign;
    return { card: d('.card'), customer: d('.customer'), comment: d('.comment'), actions: d('.actions'), customerAlign: align('.customer'), titleAlign: align('.title') };
  }`);
  // Right to left, starting at the right; the card's own words and buttons stay left to right.
  expect(dirs).toEqual({ card: 'ltr', customer: 'rtl', comment: 'rtl', actions: 'ltr', customerAlign: 'start', titleAlign: 'left' });
  await overlay.screenshot('test-results/screenshots/overlay-rtl.png');
  await overlay.click('button.accept');
  await expect.poll(() => conversationStatus(feed, body.conversation.id)).toBe('active');
  await feed.api('POST', `/api/conversations/${body.conversation.id}/messages`, { text: 'שלום, אני מחכה כבר שעה' });
  const panel = await PanelPage.open(context, extension.id);
  await expect(panel.messages().last()).toContainText('שלום');
  expect(await panel.messages().last().locator('.text').evaluate((el) => getComputedStyle(el).direction)).toBe('rtl');
  expect(await panel.page.locator('.panel').evaluate((el) => getComputedStyle(el).direction)).toBe('ltr');
});
