import { TestAgent } from '../../server/test-agent';
import { AGENT, expect, readmeShot, test } from './fixtures';
import { OverlayPage } from './overlay-page';
import { chat, connect, conversationStatus as offerState, openCrm } from './steps';
import { SCENARIO_CASES } from './scenarios';

test('an incoming chat shows as an alert in the CRM tab, and Accept takes it', async ({ context, extension, feed, crm }) => {
  const { page, overlay } = await openCrm(context, crm.url());
  expect(await overlay.shadowMode()).toBe('closed');
  expect(await page.evaluate(() => document.querySelector('[data-deskbell-overlay]')!.shadowRoot)).toBeNull();
  await connect(extension, feed);

  const { body } = await feed.createConversation({ ...chat(), waitedSec: 65 });
  await expect.poll(() => overlay.cards()).toHaveLength(1);
  const [card] = await overlay.cards();
  expect(card).toMatchObject({ kind: 'alert', role: 'alertdialog', title: 'Incoming chat', customer: 'Maria Jansen', comment: 'Where is my order?', buttons: ['Accept', 'Reject'] });
  expect(card!.meta).toMatch(/Waiting 1:0\d/);
  expect(card!.meta).toContain('Customer service');
  expect(card!.countdown).toMatch(/^0:(2\d|30)$/);
  expect(await overlay.liveRegion()).toMatch(/^Incoming chat from Maria Jansen\. (2\d|30) seconds to answer\.$/);

  // The wait time ticks live.
  const waited = card!.meta.match(/Waiting (\d+:\d+)/)![1];
  await expect.poll(async () => (await overlay.cards())[0]?.meta.match(/Waiting (\d+:\d+)/)?.[1]).not.toBe(waited);

  await overlay.click('button.accept', card!.id);
  await expect.poll(() => overlay.cards()).toHaveLength(0);
  await expect.poll(() => offerState(feed, body.conversation.id)).toBe('active');
});

for (const theme of ['dark', 'light'] as const) {
  test(`every scenario renders as its template says, ${theme} theme`, async ({ context, extension, feed, crm }) => {
    await extension.updateSettings({ theme });
    const { page, overlay } = await openCrm(context, crm.url());
    await connect(extension, feed);
    for (const c of SCENARIO_CASES) {
      const { body } = await feed.createConversation(c.request);
      await expect.poll(() => overlay.cards()).toHaveLength(1);
      const [card] = await overlay.cards();
      expect(card, c.request.scenario).toMatchObject(c.expected);
      expect(await overlay.theme()).toContain(`theme-${theme}`);
      await page.waitForTimeout(300); // the slide-in
      await overlay.screenshot(test.info().outputPath(`${c.request.scenario}.png`));
      await feed.api('POST', `/api/conversations/${body.conversation.id}/end`, {});
      await expect.poll(() => overlay.cards()).toHaveLength(0);
    }

    // The README's picture: two alerts and a toast, stacked.
    for (const c of [SCENARIO_CASES[0]!, SCENARIO_CASES[1]!, SCENARIO_CASES[3]!]) await feed.createConversation(c.request);
    await expect.poll(() => overlay.cards()).toHaveLength(3);
    await page.waitForTimeout(400); // let the slide-in finish
    await overlay.screenshot(readmeShot(`overlay-${theme}.png`));
  });
}

test('Reject sends the conversation back to the queue', async ({ context, extension, feed, crm }) => {
  const { overlay } = await openCrm(context, crm.url());
  await connect(extension, feed);
  const { body } = await feed.createConversation(chat());
  await expect.poll(() => overlay.cards()).toHaveLength(1);
  await overlay.click('button.reject');
  await expect.poll(() => overlay.cards()).toHaveLength(0);
  await expect.poll(() => offerState(feed, body.conversation.id)).toBe('waiting');
  const state = await extension.feedState();
  expect(Object.values(state.offers).map((o) => o.status)).toEqual(['rejected']);
});

test.describe('short offers', () => {
  test.use({ feedOptions: { offerTimeoutSec: 3, reofferCooldownSec: 600 } });

  test('an alert vanishes when its time is up, and the feed withdraws it', async ({ context, extension, feed, crm }) => {
    const { overlay } = await openCrm(context, crm.url());
    await connect(extension, feed);
    const { body } = await feed.createConversation(chat());
    await expect.poll(() => overlay.cards()).toHaveLength(1);
    expect((await overlay.cards())[0]!.countdown).toMatch(/^0:0[23]$/);
    await expect.poll(() => overlay.cards(), { timeout: 6000 }).toHaveLength(0);
    await expect.poll(async () => Object.values((await extension.feedState()).offers).map((o) => o.status)).toEqual(['expired']);
    await expect.poll(() => offerState(feed, body.conversation.id)).toBe('waiting');
  });
});

test('a withdrawn offer disappears: the customer left', async ({ context, extension, feed, crm }) => {
  const { overlay } = await openCrm(context, crm.url());
  await connect(extension, feed);
  const { body } = await feed.createConversation(chat());
  await expect.poll(() => overlay.cards()).toHaveLength(1);
  await feed.api('POST', `/api/conversations/${body.conversation.id}/end`, {});
  await expect.poll(() => overlay.cards()).toHaveLength(0);
  expect(Object.values((await extension.feedState()).offers).map((o) => o.status)).toEqual(['withdrawn']);
});

test('two CRM tabs show the same offers, and an answer in one clears both', async ({ context, extension, feed, crm }) => {
  const one = await openCrm(context, crm.url());
  const two = await openCrm(context, crm.url('crm.html?tab=2'));
  await connect(extension, feed);
  await feed.createConversation(chat('Maria Jansen'));
  await feed.createConversation(chat('Tom Becker'));
  for (const tab of [one, two]) await expect.poll(async () => (await tab.overlay.cards()).map((c) => c.customer)).toEqual(['Maria Jansen', 'Tom Becker']);
  await one.page.bringToFront();
  const [maria] = await one.overlay.cards();
  await one.overlay.click('button.accept', maria!.id);
  for (const tab of [one, two]) await expect.poll(async () => (await tab.overlay.cards()).map((c) => c.customer)).toEqual(['Tom Becker']);
});

test.describe('worker restarts', () => {
  test.use({ feedOptions: { offerTimeoutSec: 25 } });

  test('the service worker is killed mid-alert: the countdown carries on and Accept still works', async ({ context, extension, feed, crm }) => {
    const { overlay } = await openCrm(context, crm.url());
    await connect(extension, feed);
    const { body } = await feed.createConversation(chat());
    await expect.poll(() => overlay.cards()).toHaveLength(1);
    // Each reading is dated at the middle of the call that made it: the countdown shows whole seconds, so two
    // readings differ by the time between them give or take under a second, plus the calls' own slack.
    const read = async () => {
      const start = Date.now();
      const cards = await overlay.cards();
      return { cards, at: (start + Date.now()) / 2 };
    };
    const secs = (c: string) => Number(c.split(':')[1]);
    const before = await read();
    const card = before.cards[0]!;

    await extension.killWorker();
    await overlay.page.waitForTimeout(3000);
    const during = await read();
    expect(during.cards.map((c) => c.id)).toEqual([card.id]);
    const elapsed = (during.at - before.at) / 1000;
    expect(elapsed).toBeGreaterThan(3);
    // Still counting down by the time that passed: the overlay's clock does not wait for the worker.
    expect(Math.abs(secs(card.countdown) - secs(during.cards[0]!.countdown) - elapsed)).toBeLessThan(1.5);

    // The overlay's reconnect woke a new worker, which reloaded the offer and its deadline.
    await expect.poll(async () => (await extension.diagnostics())?.connection.status).toBe('open');
    const restored = Object.values((await extension.feedState()).offers);
    expect(restored.map((o) => [o.offerId, o.status])).toEqual([[card.id, 'offered']]);
    await overlay.click('button.accept');
    await expect.poll(() => offerState(feed, body.conversation.id)).toBe('active');
    await expect.poll(() => overlay.cards()).toHaveLength(0);
  });
});

test('the page cannot act for the agent: a synthetic click does nothing', async ({ context, extension, feed, crm }) => {
  const { overlay } = await openCrm(context, crm.url());
  await connect(extension, feed);
  const { body } = await feed.createConversation(chat());
  await expect.poll(() => overlay.cards()).toHaveLength(1);
  expect(await overlay.syntheticClick('button.accept')).toBe(true);
  expect(await overlay.syntheticClick('button.reject')).toBe(true);
  await overlay.page.waitForTimeout(500);
  expect(await overlay.cards()).toHaveLength(1);
  expect(await offerState(feed, body.conversation.id)).toBe('offered');
});

test('customer text is rendered as text: an XSS payload stays inert', async ({ context, extension, feed, crm }) => {
  const { page, overlay } = await openCrm(context, crm.url());
  await connect(extension, feed);
  const name = '<img src=x onerror="window.__deskbellXss=1">';
  const comment = '<script>window.__deskbellXss=2</script><b>bold</b>';
  await feed.createConversation({ scenario: 'chat', customer: { name }, comment });
  await expect.poll(() => overlay.cards()).toHaveLength(1);
  const [card] = await overlay.cards();
  expect(card).toMatchObject({ customer: name, comment });
  expect(await overlay.evaluate<number>(`function () { return this.querySelectorAll('img, script, b').length; }`)).toBe(0);
  await page.waitForTimeout(300);
  expect(await page.evaluate(() => (window as unknown as { __deskbellXss?: number }).__deskbellXss)).toBeUndefined();
});

test('a toast is work already the agent\'s: never re-offered, gone from every tab when dismissed, opens the session when selected', async ({ context, extension, feed, crm }) => {
  await extension.updateSettings({ templates: { 'work-item': { timeoutSec: 4 } } });
  const one = await openCrm(context, crm.url());
  const two = await openCrm(context, crm.url('crm.html?tab=2'));
  await connect(extension, feed);
  const workItem = { scenario: 'work-item', customer: { name: 'Aisha Khan' }, comment: 'Call back about the contract renewal', queue: 'Back office' };

  // Assigned by the feed: the conversation is the agent's as the toast appears.
  const first = await feed.createConversation(workItem);
  for (const tab of [one, two]) await expect.poll(() => tab.overlay.cards()).toHaveLength(1);
  const [toast] = await one.overlay.cards();
  expect(toast).toMatchObject({ kind: 'toast', role: 'status', title: 'Conversation assigned', buttons: [] });
  expect(await offerState(feed, first.body.conversation.id)).toBe('active');
  // Not an offer: the badge, the popup and Alt+Shift+Y know nothing of it.
  expect(Object.values((await extension.feedState()).offers)).toEqual([]);

  // Dismissed in one tab: gone from both.
  await one.page.bringToFront();
  await one.overlay.click('button.close', toast!.id);
  for (const tab of [one, two]) await expect.poll(() => tab.overlay.cards()).toHaveLength(0);

  // Another one, left alone: it vanishes after its time, and the conversation stays the agent's, offered to nobody.
  const second = await feed.createConversation({ ...workItem, customer: { name: 'Daniel Kim' } });
  await expect.poll(() => one.overlay.cards()).toHaveLength(1);
  await expect.poll(() => one.overlay.cards(), { timeout: 8000 }).toHaveLength(0);
  expect((await feed.api('GET', `/api/conversations/${second.body.conversation.id}`)).body).toMatchObject({ conversation: { status: 'active', agentId: AGENT.id }, offers: [] });

  // Selected: the session opens, and the toast leaves every tab.
  const third = await feed.createConversation({ ...workItem, customer: { name: 'Lucas Martin' } });
  await expect.poll(() => two.overlay.cards()).toHaveLength(1);
  await two.page.bringToFront();
  await two.overlay.click('.main', third.body.conversation.id);
  for (const tab of [one, two]) await expect.poll(() => tab.overlay.cards()).toHaveLength(0);
  await expect.poll(async () => (await extension.feedState()).focus?.conversationId).toBe(third.body.conversation.id);
});

test.describe('an alert whose time runs out in the browser', () => {
  const colleague = { id: 'agent-2', name: 'Blair Stone', token: 'deskbell-e2e-colleague-token' };
  test.use({ feedOptions: { agents: [AGENT, colleague], offerTimeoutSec: 120 } });

  test('is offered to the next agent at once, not when the feed\'s own time is up', async ({ context, extension, feed, crm }) => {
    await extension.updateSettings({ templates: { chat: { timeoutSec: 4 } } });
    const { overlay } = await openCrm(context, crm.url());
    await connect(extension, feed);
    const other = await TestAgent.connect(feed.url, colleague.token, { presence: 'busy' });
    await other.next('welcome');
    const { body } = await feed.createConversation(chat());
    await expect.poll(() => overlay.cards()).toHaveLength(1);
    other.send({ type: 'presence', presence: 'available' });
    await expect.poll(() => overlay.cards(), { timeout: 8000 }).toHaveLength(0);
    const goneAt = Date.now();
    const offer = await other.next('offer', (o) => o.conversation.id === body.conversation.id, 2000);
    expect(Date.now() - goneAt).toBeLessThan(2000);
    expect(offer.expiresAt - offer.offeredAt).toBe(120_000);
    const history = (await feed.api('GET', `/api/conversations/${body.conversation.id}`)).body.offers as { agentId: string; state: string; reason: string }[];
    expect(history[0]).toMatchObject({ agentId: AGENT.id, state: 'expired', reason: 'timeout in the browser' });
    await other.close();
  });
});

test('many offers stack with "+N more"', async ({ context, extension, feed, crm }) => {
  const { overlay } = await openCrm(context, crm.url());
  await connect(extension, feed);
  for (const name of ['Ann', 'Ben', 'Cas', 'Dee', 'Eli']) await feed.createConversation(chat(name));
  await expect.poll(() => overlay.evaluate<string>(`function () { return this.querySelector('.more')?.textContent; }`)).toBe('+2 more');
  expect((await overlay.cards()).map((c) => c.customer)).toEqual(['Ann', 'Ben', 'Cas']);
  await overlay.click('.more');
  await expect.poll(async () => (await overlay.cards()).map((c) => c.customer)).toEqual(['Ann', 'Ben', 'Cas', 'Dee', 'Eli']);
});

test('nothing of Deskbell runs in a CRM page before the page has loaded; an offer that came meanwhile shows right after', async ({ context, extension, feed, crm }) => {
  await connect(extension, feed);
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  // In page order: the load event, and each script world an extension creates in the page.
  const events: string[] = [];
  cdp.on('Runtime.executionContextCreated', ({ context: world }) => {
    if (world.origin === `chrome-extension://${extension.id}`) events.push('deskbell');
  });
  cdp.on('Page.loadEventFired', () => events.push('load'));
  await cdp.send('Page.enable');
  await cdp.send('Runtime.enable');
  await page.goto(crm.url('crm-held.html'), { waitUntil: 'domcontentloaded' });
  await feed.createConversation(chat());
  // A declared document_idle script runs 200 ms after DOMContentLoaded at the latest, load or not.
  await page.waitForTimeout(1000);
  expect(events).toEqual([]);

  crm.release();
  const overlay = new OverlayPage(page);
  await expect.poll(async () => (await overlay.cards()).map((c) => c.customer)).toEqual(['Maria Jansen']);
  expect(events[0]).toBe('load');
  expect(events).toContain('deskbell');
});

test('a card on screen costs the page next to nothing: nothing animates once it has slid in, and it changes once a second', async ({ context, extension, feed, crm }) => {
  const { overlay } = await openCrm(context, crm.url());
  await connect(extension, feed);
  await feed.createConversation(chat('Ann'));
  await expect.poll(() => overlay.cards()).toHaveLength(1);
  // Any running animation or transition (the countdown bar's, say) makes the browser draw sixty frames a second.
  await expect.poll(() => overlay.evaluate<number>(`function () { return this.getAnimations().length; }`)).toBe(0);
  const changes = await overlay.evaluate<number>(`function () {
    return new Promise((resolve) => {
      let count = 0;
      const observer = new MutationObserver((records) => (count += records.length));
      observer.observe(this.querySelector('.bar'), { attributes: true });
      setTimeout(() => { observer.disconnect(); resolve(count); }, 3000);
    });
  }`);
  // Three seconds: three steps of the countdown bar (one more if a step fell on the edge), not one every 250 ms.
  expect(changes).toBeGreaterThanOrEqual(2);
  expect(changes).toBeLessThanOrEqual(4);
  expect(await overlay.evaluate<number>(`function () { return this.getAnimations().length; }`)).toBe(0);
});

test('an alert does not steal focus from the form the agent is typing in', async ({ context, extension, feed, crm }) => {
  const { page, overlay } = await openCrm(context, crm.url());
  await connect(extension, feed);
  await page.locator('#notes').click();
  await page.keyboard.type('Called about ');
  await feed.createConversation(chat());
  await expect.poll(() => overlay.cards()).toHaveLength(1);
  await page.keyboard.type('the invoice');
  await expect(page.locator('#notes')).toHaveValue('Called about the invoice');
  expect(await page.evaluate(() => document.activeElement?.id)).toBe('notes');
  // And the alert is reachable from the keyboard: Tab goes into the overlay's buttons.
  await page.keyboard.press('Tab');
  expect(await overlay.evaluate<string>(`function () { return this.activeElement?.textContent ?? ''; }`)).toBe('Accept');
});

test('after an extension reload the old overlay goes and the new one takes over, once', async ({ context, extension, feed, crm }) => {
  const { overlay } = await openCrm(context, crm.url());
  await connect(extension, feed);
  await feed.createConversation(chat());
  await expect.poll(() => overlay.cards()).toHaveLength(1);
  const offerId = (await overlay.cards())[0]!.id;
  await overlay.page.evaluate(() => document.querySelector('[data-deskbell-overlay]')!.setAttribute('data-test-old', ''));

  await extension.reload();
  // The new worker injects the overlay into the open tab; the feed re-sends the live offer.
  await expect.poll(async () => (await extension.diagnostics())?.connection.status, { timeout: 15_000 }).toBe('open');
  await expect.poll(() => overlay.page.evaluate(() => document.querySelectorAll('[data-test-old]').length)).toBe(0);
  await expect.poll(() => overlay.hostCount()).toBe(1);
  await expect.poll(async () => (await overlay.cards()).map((c) => c.id)).toEqual([offerId]);
  await overlay.page.waitForTimeout(500);
  expect(await overlay.hostCount()).toBe(1);
});
