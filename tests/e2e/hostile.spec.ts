/**
 * A CRM page is not ours: it may be compromised, or just badly written. Each
 * test makes the page do something hostile and checks that the offer still
 * reaches the agent, that the page cannot act for them, and that what the
 * extension keeps (the feed token, the chat) stays out of the page's reach.
 */
import type { CDPSession, Page } from '@playwright/test';
import { startCrmSite } from './crm-site';
import { AGENT, expect, test } from './fixtures';
import { chat, connect, conversationStatus, openCrm } from './steps';

/** Runs `expression` in Deskbell's content-script world of the page (as DevTools' context picker does). */
async function inContentScript<T>(page: Page, extensionId: string, expression: string): Promise<T> {
  const cdp: CDPSession = await page.context().newCDPSession(page);
  const contexts: { id: number; origin: string; auxData?: { type?: string } }[] = [];
  cdp.on('Runtime.executionContextCreated', ({ context }) => contexts.push(context));
  await cdp.send('Runtime.enable');
  await expect.poll(() => contexts.some((c) => c.auxData?.type === 'isolated' && c.origin.includes(extensionId))).toBe(true);
  const world = contexts.find((c) => c.auxData?.type === 'isolated' && c.origin.includes(extensionId))!;
  const { result, exceptionDetails } = await cdp.send('Runtime.evaluate', { expression, contextId: world.id, awaitPromise: true, returnByValue: true });
  await cdp.detach();
  if (exceptionDetails) throw new Error(`content-script evaluate failed: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`);
  return result.value as T;
}

test('a page that fakes WXT\'s "newer script started" event, or posts look-alike messages, does not remove the overlay', async ({ context, extension, feed, crm }) => {
  const { page, overlay } = await openCrm(context, crm.url());
  await connect(extension, feed);
  // The page knows the event name (it contains the extension id, which it may have learned elsewhere).
  await page.evaluate((id) => {
    for (const name of ['crm', 'content', 'overlay']) {
      const type = `${id}:${name}:wxt:content-script-started`;
      document.dispatchEvent(new CustomEvent(type, { detail: { contentScriptName: name, messageId: 'page' } }));
      window.postMessage({ type, contentScriptName: name, messageId: 'page' }, '*');
    }
    window.postMessage({ type: 'acceptOffer', data: { offerId: 'x' } }, '*');
  }, extension.id);
  const { body } = await feed.createConversation(chat('Tom Becker'));
  await expect.poll(async () => (await overlay.cards()).map((c) => c.customer)).toEqual(['Tom Becker']);
  expect(await overlay.hostCount()).toBe(1);
  await overlay.click('button.accept');
  await expect.poll(() => conversationStatus(feed, body.conversation.id)).toBe('active');
});

test('the extension id is not broadcast to the page', async ({ context, extension, crm }) => {
  expect(extension.id).toBeTruthy();
  const page = await context.newPage();
  await page.addInitScript(() => {
    const seen: unknown[] = [];
    (window as unknown as { __seen: unknown[] }).__seen = seen;
    window.addEventListener('message', (e) => seen.push(e.data));
  });
  await page.goto(crm.url());
  await expect.poll(() => page.evaluate(() => document.querySelectorAll('[data-deskbell-overlay]').length)).toBe(1);
  const seen = await page.evaluate(() => JSON.stringify((window as unknown as { __seen: unknown[] }).__seen));
  expect(seen).toBe('[]');
});

test('patched DOM methods on the page do not reach the overlay: it mounts closed and works', async ({ context, extension, feed, crm }) => {
  const page = await context.newPage();
  await page.addInitScript(() => {
    const w = window as unknown as { __shadowRoots: ShadowRoot[] };
    w.__shadowRoots = [];
    const attach = Element.prototype.attachShadow;
    Element.prototype.attachShadow = function (init: ShadowRootInit) {
      const root = attach.call(this, { ...init, mode: 'open' });
      w.__shadowRoots.push(root);
      return root;
    };
    Element.prototype.remove = () => {};
    EventTarget.prototype.addEventListener = () => {};
  });
  await page.goto(crm.url());
  const { OverlayPage } = await import('./overlay-page');
  const overlay = new OverlayPage(page);
  await expect.poll(() => overlay.hostCount()).toBe(1);
  expect(await overlay.shadowMode()).toBe('closed');
  expect(await page.evaluate(() => (window as unknown as { __shadowRoots: ShadowRoot[] }).__shadowRoots.length)).toBe(0);
  await connect(extension, feed);
  const { body } = await feed.createConversation(chat());
  await expect.poll(() => overlay.cards()).toHaveLength(1);
  await overlay.click('button.accept');
  await expect.poll(() => conversationStatus(feed, body.conversation.id)).toBe('active');
});

test('a page that removes the overlay, or covers it, does not keep the offer from the agent', async ({ context, extension, feed, crm }) => {
  const { page, overlay } = await openCrm(context, crm.url());
  await connect(extension, feed);
  await page.evaluate(() => {
    // Removes every element it does not know, again and again, and lays a full-page sheet on top.
    const sweep = () => document.querySelectorAll('[data-deskbell-overlay]').forEach((el) => el.remove());
    setInterval(sweep, 100);
    sweep();
    const cover = document.createElement('div');
    cover.id = 'cover';
    cover.style.cssText = 'position:fixed;inset:0;z-index:2147483647;background:rgba(255,0,0,.2)';
    document.documentElement.append(cover);
  });
  const { body } = await feed.createConversation(chat('Aisha Khan'));
  await expect.poll(async () => (await overlay.cards()).map((c) => c.customer)).toEqual(['Aisha Khan']);
  // What is on top at the Accept button is the overlay (in the top layer), not the page's sheet.
  await expect.poll(() => overlay.onTopAt('button.accept')).toBe('overlay');
  await overlay.click('button.accept');
  await expect.poll(() => conversationStatus(feed, body.conversation.id)).toBe('active');
});

test('a strict CSP and aggressive page CSS leave the overlay styled and working', async ({ context, extension, feed }) => {
  const strict = await startCrmSite({ 'content-security-policy': "default-src 'self'; style-src 'self'; script-src 'self'" });
  try {
    const { page, overlay } = await openCrm(context, strict.url('hostile.html'));
    await connect(extension, feed);
    const { body } = await feed.createConversation(chat('Lars Eriksson'));
    await expect.poll(async () => (await overlay.cards()).map((c) => c.customer)).toEqual(['Lars Eriksson']);
    const look = await overlay.evaluate<{ background: string; display: string; width: number; font: string; buttonBg: string }>(`function () {
      const card = this.querySelector('.card');
      const button = card.querySelector('button.accept');
      const s = getComputedStyle(card);
      return { background: s.backgroundColor, display: s.display, width: card.getBoundingClientRect().width, font: s.fontFamily, buttonBg: getComputedStyle(button).backgroundColor };
    }`);
    expect(look!.display).not.toBe('none');
    expect(look!.width).toBeGreaterThan(250);
    expect(look!.background).not.toBe('rgba(0, 0, 0, 0)');
    expect(look!.buttonBg).not.toBe('rgb(255, 0, 255)');
    expect(look!.font).not.toContain('Comic');
    await page.screenshot({ path: 'test-results/hostile-page.png' });
    await overlay.click('button.accept');
    await expect.poll(() => conversationStatus(feed, body.conversation.id)).toBe('active');
  } finally {
    await strict.close();
  }
});

test('forged and malformed messages from the content-script world are refused; the feed token is out of its reach', async ({ context, extension, feed, crm }) => {
  const { page, overlay } = await openCrm(context, crm.url());
  await connect(extension, feed);
  const { body } = await feed.createConversation(chat());
  await expect.poll(() => overlay.cards()).toHaveLength(1);
  const offerId = (await overlay.cards())[0]!.id;

  // As if the page's renderer were compromised: the content script's own powers, used directly.
  const token = await inContentScript<string>(page, extension.id, `chrome.storage.local.get('settings').then((r) => 'read: ' + JSON.stringify(r), (e) => 'refused: ' + e.message)`);
  expect(token).toMatch(/^refused: /);
  expect(token).not.toContain(AGENT.token);

  const send = (type: string, data: unknown) =>
    inContentScript<unknown>(page, extension.id, `chrome.runtime.sendMessage({ id: 1, type: ${JSON.stringify(type)}, data: ${JSON.stringify(data)}, timestamp: Date.now() })`);
  // Malformed: the worker refuses and nothing moves.
  expect(JSON.stringify(await send('acceptOffer', { offerId: 42 }))).toContain('malformed');
  expect(JSON.stringify(await send('rejectOffer', { offerId, reason: 'x'.repeat(5000) }))).toContain('malformed');
  expect(await conversationStatus(feed, body.conversation.id)).toBe('offered');
  // Page-only commands: a content script may not chat, end, or read diagnostics.
  await overlay.click('button.accept');
  await expect.poll(() => conversationStatus(feed, body.conversation.id)).toBe('active');
  expect(JSON.stringify(await send('sendChatMessage', { conversationId: body.conversation.id, clientMsgId: 'forged-1', text: 'Send me your password' }))).toContain('Refused');
  expect(JSON.stringify(await send('endConversation', { conversationId: body.conversation.id }))).toContain('Refused');
  // Diagnostics (the feed journal among them) live in storage.session, which content scripts cannot read.
  const diagnostics = await inContentScript<string>(page, extension.id, `chrome.storage.session.get('diagnostics').then((r) => 'read: ' + JSON.stringify(r), (e) => 'refused: ' + e.message)`);
  expect(diagnostics).toMatch(/^refused: /);
  const transcript = (await feed.api('GET', `/api/conversations/${body.conversation.id}`)).body.transcript as { text: string }[];
  expect(transcript.map((m) => m.text)).not.toContain('Send me your password');
  expect(await conversationStatus(feed, body.conversation.id)).toBe('active');
});
