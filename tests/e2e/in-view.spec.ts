/**
 * The offer stays in view and answerable whatever the page does with the
 * browser's top layer (modal dialogs, popovers, fullscreen), with DOM churn,
 * and in CRMs built from frames. Each case ends with a real mouse click on
 * Accept that accepts.
 */
import type { Page } from '@playwright/test';
import { expect, test } from './fixtures';
import type { OverlayPage } from './overlay-page';
import { chat, connect, conversationStatus, openCrm } from './steps';

async function acceptsWithRealClick(overlay: OverlayPage, feed: Parameters<typeof conversationStatus>[0], conversationId: string): Promise<void> {
  await expect.poll(() => overlay.onTopAt('button.accept')).toBe('overlay');
  await overlay.click('button.accept');
  await expect.poll(() => conversationStatus(feed, conversationId)).toBe('active');
}

const openModal = (page: Page) =>
  page.evaluate(() => {
    document.querySelector('dialog')?.remove();
    const dialog = document.createElement('dialog');
    dialog.id = 'record-form';
    dialog.style.cssText = 'width: 95vw; height: 90vh; max-width: none; max-height: none';
    const form = Object.assign(document.createElement('form'), { method: 'dialog' });
    form.append(Object.assign(document.createElement('input'), { id: 'dialog-field' }), Object.assign(document.createElement('button'), { id: 'dialog-close', textContent: 'Close' }));
    dialog.append(form);
    document.body.append(dialog);
    dialog.showModal();
  });

test('a native modal dialog, opened before or after an offer arrives, neither covers the card nor swallows its clicks', async ({ context, extension, feed, crm }) => {
  const { page, overlay } = await openCrm(context, crm.url());
  await connect(extension, feed);

  // Open before the offer arrives.
  await openModal(page);
  const first = await feed.createConversation(chat('Maria Jansen'));
  await expect.poll(async () => (await overlay.cards()).map((c) => c.customer)).toEqual(['Maria Jansen']);
  await expect.poll(() => overlay.hostParent()).toBe('dialog');
  await acceptsWithRealClick(overlay, feed, first.body.conversation.id);
  await page.evaluate(() => document.querySelector('dialog')!.close());
  await expect.poll(() => overlay.hostParent()).toBe('html');

  // Opened while the card is up.
  const second = await feed.createConversation(chat('Tom Becker'));
  await expect.poll(() => overlay.cards()).toHaveLength(1);
  await openModal(page);
  await expect.poll(() => overlay.hostParent()).toBe('dialog');
  await acceptsWithRealClick(overlay, feed, second.body.conversation.id);
  // The dialog itself still works for the agent.
  await page.click('#dialog-close');
  await expect.poll(() => page.evaluate(() => document.querySelector('dialog')!.open)).toBe(false);
});

test('a page popover shown over the card does not keep it from the agent', async ({ context, extension, feed, crm }) => {
  const { page, overlay } = await openCrm(context, crm.url());
  await connect(extension, feed);
  const { body } = await feed.createConversation(chat());
  await expect.poll(() => overlay.cards()).toHaveLength(1);
  await page.evaluate(() => {
    const menu = document.createElement('div');
    menu.id = 'menu';
    menu.setAttribute('popover', 'manual');
    menu.style.cssText = 'position: fixed; inset: 0; width: 100vw; height: 100vh; margin: 0; background: rgba(0,0,0,.3)';
    document.body.append(menu);
    menu.showPopover();
  });
  await acceptsWithRealClick(overlay, feed, body.conversation.id);
});

test('fullscreen: the card shows over a fullscreen element; over a fullscreen video, a desktop notification tells the agent instead', async ({ context, extension, feed, crm }) => {
  const { page, overlay } = await openCrm(context, crm.url());
  await connect(extension, feed);
  await page.evaluate(() => {
    const panel = document.createElement('section');
    panel.id = 'dashboard';
    panel.style.background = '#123';
    panel.append(Object.assign(document.createElement('button'), { id: 'go-full', textContent: 'Full screen' }));
    document.body.append(panel);
    document.getElementById('go-full')!.onclick = () => void panel.requestFullscreen();
    const video = document.createElement('video');
    video.id = 'call';
    video.style.cssText = 'width: 200px; height: 100px; background: #000';
    document.body.append(video);
  });
  await page.click('#go-full');
  await expect.poll(() => page.evaluate(() => document.fullscreenElement?.id)).toBe('dashboard');
  const { body } = await feed.createConversation(chat());
  await expect.poll(() => overlay.cards()).toHaveLength(1);
  await expect.poll(() => overlay.hostParent()).toBe('section');
  await acceptsWithRealClick(overlay, feed, body.conversation.id);

  // A video takes no children: the card cannot be drawn over it, so the tab is not "in view".
  await page.evaluate(() => document.exitFullscreen());
  await expect.poll(() => page.evaluate(() => document.fullscreenElement)).toBeNull();
  await page.evaluate(() => {
    const video = document.getElementById('call')!;
    document.body.addEventListener('click', () => void video.requestFullscreen(), { once: true });
  });
  await page.mouse.click(5, 300);
  await expect.poll(() => page.evaluate(() => document.fullscreenElement?.id)).toBe('call');
  await feed.createConversation(chat('Tom Becker'));
  const worker = await extension.worker();
  await expect.poll(() => worker.evaluate(async () => Object.keys(await chrome.notifications.getAll()))).toHaveLength(1);
  expect(await page.evaluate(() => document.fullscreenElement?.id)).toBe('call');
});

test('a page that keeps adding elements does not make the card flicker or move', async ({ context, extension, feed, crm }) => {
  const { page, overlay } = await openCrm(context, crm.url());
  await connect(extension, feed);
  await feed.createConversation(chat());
  await expect.poll(() => overlay.cards()).toHaveLength(1);
  await page.waitForTimeout(600); // slid in
  // Another extension or the CRM appends to <html> ten times a second, and to the body.
  await page.evaluate(() => {
    setInterval(() => {
      document.documentElement.append(Object.assign(document.createElement('div'), { className: 'churn' }));
      document.body.append(document.createElement('span'));
    }, 100);
  });
  // What is painted, sampled over 2 s with the countdown hidden (it changes on its own): the same pixels each time.
  await overlay.evaluate(`function () { for (const el of this.querySelectorAll('.countdown, .progress, .meta')) el.style.visibility = 'hidden'; }`);
  const shots: string[] = [];
  for (let i = 0; i < 10; i++) {
    shots.push((await page.screenshot({ clip: { x: 1280 - 400, y: 0, width: 400, height: 260 } })).toString('base64'));
    await page.waitForTimeout(200);
  }
  expect(new Set(shots).size).toBe(1);
  expect(await overlay.onTopAt('button.accept')).toBe('overlay');
});

test('a CRM built from frames gets one card, in the top frame, never one per frame', async ({ context, extension, feed, crm }) => {
  const { page, overlay } = await openCrm(context, crm.url('crm-frames.html'));
  await expect.poll(() => page.frames().length).toBe(3);
  await connect(extension, feed);
  const { body } = await feed.createConversation(chat());
  await expect.poll(() => overlay.cards()).toHaveLength(1);
  expect(await overlay.hostsByFrame()).toEqual(['/crm-frames.html']);
  await acceptsWithRealClick(overlay, feed, body.conversation.id);
});
