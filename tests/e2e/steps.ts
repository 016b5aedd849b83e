/** Steps most specs take: open a CRM tab with the overlay, connect the extension, make a chat. */
import type { BrowserContext, Page } from '@playwright/test';
import { expect, type ExtensionHandle, type Feed } from './fixtures';
import { OverlayPage } from './overlay-page';

export async function openCrm(context: BrowserContext, url: string): Promise<{ page: Page; overlay: OverlayPage }> {
  const page = await context.newPage();
  await page.goto(url);
  const overlay = new OverlayPage(page);
  await expect.poll(() => overlay.hostCount()).toBe(1);
  return { page, overlay };
}

export async function connect(extension: ExtensionHandle, feed: Feed): Promise<void> {
  await extension.configureFeed(feed.url);
  await expect.poll(async () => (await extension.diagnostics())?.connection.status).toBe('open');
}

export const chat = (name = 'Maria Jansen', comment = 'Where is my order?') => ({ scenario: 'chat', customer: { name }, comment, queue: 'Customer service' });

/** The conversation's status on the feed server: waiting, offered, active, ended. */
export async function conversationStatus(feed: Feed, conversationId: string): Promise<string> {
  return (await feed.api('GET', `/api/conversations/${conversationId}`)).body.conversation.status;
}
