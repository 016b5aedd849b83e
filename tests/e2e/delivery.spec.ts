/**
 * Replies reach the customer: the side panel's reply goes through the feed
 * server and the official twilio library to a fake Twilio on 127.0.0.1, the
 * signed status callback comes back, and the panel says how far each reply
 * got. Messenger's 24-hour window is said before the agent types.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks.js';
import { MessengerSender, TwilioSmsSender } from '../../server/channels/outbound';
import { smsStatusUrl } from '../../server/channels/webhooks';
import { FakeGraph } from '../../server/fakes/graph-api';
import { FakeTwilio } from '../../server/fakes/twilio-api';
import { expect, Feed, test } from './fixtures';
import { OverlayPage } from './overlay-page';
import { PanelPage } from './panel-page';

const ACCOUNT = `AC${'4b'.repeat(16)}`;
const AUTH_TOKEN = 'e2e-twilio-auth-token-0123';
const FROM = '+3197010000000';
const CUSTOMER = '+31612345678';
const SMS = { authToken: AUTH_TOKEN, publicUrl: 'https://feed.example.com/webhooks/sms' };
const MESSENGER = { appSecret: 'e2e-messenger-app-secret', verifyToken: 'e2e-verify' };
const PAGE_TOKEN = 'e2e-page-access-token-0123';

const providers = test.extend<{ providers: { twilio: FakeTwilio; graph: FakeGraph; feed: Feed; shift: { ms: number } } }>({
  providers: async ({}, use) => {
    const twilio = await new FakeTwilio({ accountSid: ACCOUNT, authToken: AUTH_TOKEN }).start();
    const graph = await new FakeGraph({ pageAccessToken: PAGE_TOKEN, appSecret: MESSENGER.appSecret }).start();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'deskbell-feed-'));
    const shift = { ms: 0 };
    const feed = await new Feed(dataDir, {
      channels: { sms: SMS, messenger: MESSENGER },
      senders: {
        sms: new TwilioSmsSender({ accountSid: ACCOUNT, authToken: AUTH_TOKEN, from: FROM, statusCallback: smsStatusUrl(SMS.publicUrl), apiBaseUrl: twilio.url }),
        facebook: new MessengerSender({ pageAccessToken: PAGE_TOKEN, appSecret: MESSENGER.appSecret, graphUrl: `${graph.url}/v21.0` }),
      },
      now: () => Date.now() + shift.ms,
    }).start();
    twilio.callbackBase = feed.server.httpUrl;
    await use({ twilio, graph, feed, shift });
    await feed.server.close().catch(() => {});
    await twilio.close();
    await graph.close();
    rmSync(dataDir, { recursive: true, force: true });
  },
});

async function textIn(feed: Feed, sid: string, body: string): Promise<void> {
  const fields = { MessageSid: sid, From: CUSTOMER, To: FROM, Body: body, AccountSid: ACCOUNT };
  const res = await fetch(`${feed.server.httpUrl}/webhooks/sms`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': getExpectedTwilioSignature(AUTH_TOKEN, SMS.publicUrl, fields) },
    body: new URLSearchParams(fields),
  });
  expect(res.status).toBe(200);
}

async function acceptNewest(overlay: OverlayPage): Promise<void> {
  await expect.poll(async () => (await overlay.cards()).length).toBe(1);
  await overlay.page.bringToFront();
  await overlay.click('button.accept', (await overlay.cards())[0]!.id);
}

providers('an SMS reply typed in the side panel reaches Twilio once; the signed status callback shows it delivered; a failure says why, and Retry resends it', async ({ context, extension, crm, providers: { twilio, feed } }) => {
  const page = await context.newPage();
  await page.goto(crm.url());
  await extension.configureFeed(feed.url);
  await expect.poll(async () => (await extension.diagnostics())?.connection.status).toBe('open');
  await textIn(feed, 'SM-in-1', 'Where is my parcel?');
  await acceptNewest(new OverlayPage(page));
  await extension.updateSettings({ theme: 'dark' });
  const panel = await PanelPage.open(context, extension.id);
  await expect(panel.messages()).toHaveCount(1);

  // The composer says what the draft costs before it goes.
  await panel.composer().fill('Your parcel left our warehouse today: €5 off [code SORRY]');
  await expect(panel.page.locator('.channel-rule')).toHaveText('SMS segments: 1 · GSM-7 · 57 characters');
  await panel.composer().fill('Sorry 🙏');
  await expect(panel.page.locator('.channel-rule')).toHaveText('SMS segments: 1 · UCS-2 · 8 characters');
  await panel.composer().fill('');
  await expect(panel.page.locator('.channel-rule')).toHaveText('');

  await panel.send('Your parcel left our warehouse today.');
  const reply = panel.messages().last();
  await expect(reply.locator('.delivery')).toHaveText('Sent');
  expect(twilio.requests).toEqual([
    {
      method: 'POST',
      path: `/2010-04-01/Accounts/${ACCOUNT}/Messages.json`,
      user: ACCOUNT,
      fields: { To: CUSTOMER, From: FROM, Body: 'Your parcel left our warehouse today.', StatusCallback: 'https://feed.example.com/webhooks/sms/status' },
    },
  ]);
  expect(await twilio.callback(twilio.messages[0]!.sid, 'delivered')).toBe(204);
  await expect(reply.locator('.delivery')).toHaveText('Delivered');

  // Twilio takes the next one, but the phone is off: the panel says so, and Retry sends it again.
  await panel.send('Tracking: https://track.example/991');
  await expect(panel.messages().last().locator('.delivery')).toHaveText('Sent');
  expect(await twilio.callback(twilio.messages[1]!.sid, 'undelivered', '30003')).toBe(204);
  const failed = panel.messages().last();
  await expect(failed.locator('.delivery')).toContainText("Not delivered: Twilio 30003: the customer's phone is unreachable (off, or out of coverage)");
  // Screen readers hear it too, politely.
  await expect(panel.page.locator('[data-live=messages]')).toHaveText(`Not delivered to ${CUSTOMER}: Twilio 30003: the customer's phone is unreachable (off, or out of coverage)`);
  await panel.page.screenshot({ path: 'test-results/screenshots/sidepanel-sms-delivery-dark.png' });
  await failed.getByRole('button', { name: 'Retry' }).click();
  await expect(failed.locator('.delivery')).toHaveText('Sent');
  expect(twilio.messages.map((m) => m.body)).toEqual(['Your parcel left our warehouse today.', 'Tracking: https://track.example/991', 'Tracking: https://track.example/991']);

  // A refusal Twilio means for good has no Retry.
  twilio.respond({ kind: 'error', status: 400, code: 21610, message: 'Attempt to send to unsubscribed recipient' });
  await panel.send('Anything else?');
  const refused = panel.messages().last();
  await expect(refused.locator('.delivery')).toHaveText('Not delivered: Twilio: Attempt to send to unsubscribed recipient (21610)');
  await expect(refused.getByRole('button', { name: 'Retry' })).toHaveCount(0);
  await extension.updateSettings({ theme: 'light' });
  await expect(panel.page.locator('html')).toHaveClass('theme-light');
  await panel.page.screenshot({ path: 'test-results/screenshots/sidepanel-sms-delivery-light.png' });
  expect(twilio.messages).toHaveLength(3);
});

providers("Messenger's 24-hour window: a conversation whose customer last wrote over a day ago cannot be answered, and the composer says so", async ({ context, extension, crm, providers: { graph, feed, shift } }) => {
  const page = await context.newPage();
  await page.goto(crm.url());
  // The customer wrote 25 hours ago (the feed's clock then), while no agent was on.
  shift.ms = -25 * 3600_000;
  const body = JSON.stringify({ object: 'page', entry: [{ id: 'page-1', time: 1, messaging: [{ sender: { id: '6543210987' }, recipient: { id: 'page-1' }, timestamp: 1, message: { mid: 'm_old', text: 'Do you ship to Belgium?' } }] }] });
  const { createHmac } = await import('node:crypto');
  const res = await fetch(`${feed.server.httpUrl}/webhooks/messenger`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': `sha256=${createHmac('sha256', MESSENGER.appSecret).update(body).digest('hex')}` },
    body,
  });
  expect(res.status).toBe(200);
  shift.ms = 0;
  await extension.configureFeed(feed.url);
  await acceptNewest(new OverlayPage(page));
  const panel = await PanelPage.open(context, extension.id);
  await expect(panel.messages()).toHaveCount(1);
  await expect(panel.page.locator('.channel-rule')).toContainText("Messenger's 24-hour reply window closed at");
  await expect(panel.composer()).toBeDisabled();
  await expect(panel.page.getByRole('button', { name: 'Send' })).toBeDisabled();
  await panel.page.screenshot({ path: 'test-results/screenshots/sidepanel-messenger-window-light.png' });
  await extension.updateSettings({ theme: 'dark' });
  await expect(panel.page.locator('html')).toHaveClass('theme-dark');
  await panel.page.screenshot({ path: 'test-results/screenshots/sidepanel-messenger-window-dark.png' });
  expect(graph.requests).toHaveLength(0);
});
