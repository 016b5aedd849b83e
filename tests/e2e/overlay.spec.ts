import { expect, test } from './fixtures';
import { OverlayPage } from './overlay-page';

test('an incoming chat shows as an alert in the CRM tab, and Accept takes it', async ({ context, extension, feed, crm }) => {
  await extension.configureFeed(feed.url);
  const page = await context.newPage();
  await page.goto(crm.url());
  const overlay = new OverlayPage(page);
  await expect.poll(() => overlay.hostCount()).toBe(1);
  expect(await overlay.shadowMode()).toBe('closed');
  expect(await page.evaluate(() => document.querySelector('[data-deskbell-overlay]')!.shadowRoot)).toBeNull();

  await expect.poll(async () => (await extension.diagnostics())?.connection.status).toBe('open');
  const { body } = await feed.createConversation({ scenario: 'chat', customer: { name: 'Maria Jansen' }, comment: 'Where is my order?', queue: 'Customer service', waitedSec: 65 });
  await expect.poll(() => overlay.cards()).toHaveLength(1);
  const [card] = await overlay.cards();
  expect(card).toMatchObject({ kind: 'alert', role: 'alertdialog', title: 'Incoming chat', customer: 'Maria Jansen', comment: 'Where is my order?', buttons: ['Accept', 'Reject'] });
  expect(card!.meta).toMatch(/Waiting 1:0\d/);
  expect(card!.meta).toContain('Customer service');
  expect(card!.countdown).toMatch(/^0:(2\d|30)$/);

  await overlay.click('button.accept', card!.offerId);
  await expect.poll(() => overlay.cards()).toHaveLength(0);
  await expect.poll(async () => (await feed.api('GET', `/api/conversations/${body.conversation.id}`)).body.conversation.status).toBe('active');
});
