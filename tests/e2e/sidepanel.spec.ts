import { expect, type ExtensionHandle, type Feed, readmeShot, test } from './fixtures';
import { OverlayPage } from './overlay-page';
import { PanelPage, sidePanelIsOpen } from './panel-page';

async function setup(context: Parameters<Parameters<typeof test>[2]>[0]['context'], extension: ExtensionHandle, feed: Feed, crmUrl: string) {
  const crm = await context.newPage();
  await crm.goto(crmUrl);
  const overlay = new OverlayPage(crm);
  await extension.configureFeed(feed.url);
  await expect.poll(async () => (await extension.diagnostics())?.connection.status).toBe('open');
  return { crm, overlay };
}

async function acceptFromOverlay(overlay: OverlayPage, feed: Feed, request: Record<string, unknown>): Promise<string> {
  const { body } = await feed.createConversation(request);
  await expect.poll(async () => (await overlay.cards()).some((c) => c.customer === (request.customer as { name: string }).name)).toBe(true);
  const card = (await overlay.cards()).find((c) => c.customer === (request.customer as { name: string }).name)!;
  await overlay.page.bringToFront();
  await overlay.click(card.kind === 'alert' ? 'button.accept' : '.main', card.id);
  await expect.poll(async () => (await feed.api('GET', `/api/conversations/${body.conversation.id}`)).body.conversation.status).toBe('active');
  return body.conversation.id;
}

const maria = {
  scenario: 'sms',
  customer: { name: 'Maria Jansen', phone: '+31 6 12345678' },
  comment: 'Hi, my invoice shows a double charge for October.',
  queue: 'Billing',
  waitedSec: 75,
};

test('Accept opens the side panel with the customer summary, and messages flow both ways', async ({ context, extension, feed, crm }) => {
  const { overlay } = await setup(context, extension, feed, crm.url());
  const id = await acceptFromOverlay(overlay, feed, maria);
  await expect.poll(() => sidePanelIsOpen(context, extension.id)).toBe(true);

  const panel = await PanelPage.open(context, extension.id);
  await expect(panel.summary().getByRole('heading', { name: 'Maria Jansen' })).toBeVisible();
  await expect(panel.summary()).toContainText('Name as given on SMS');
  await expect(panel.summary()).toContainText('Hi, my invoice shows a double charge for October.');
  await expect(panel.fact('Phone')).toHaveText('+31 6 12345678');
  await expect(panel.fact('Phone').getByRole('link')).toHaveAttribute('href', 'tel:+31612345678');
  await expect(panel.fact('Channel')).toHaveText('SMS');
  await expect(panel.fact('Queue')).toHaveText('Billing');
  await expect(panel.fact('Waited')).toHaveText(/^1:1\d$/);
  await expect(panel.messages()).toHaveCount(1);

  await feed.api('POST', `/api/conversations/${id}/messages`, { text: 'It was charged twice on the 3rd. See https://bank.example/tx/991' });
  await expect(panel.messages().last()).toContainText('It was charged twice on the 3rd.');
  await expect(panel.messages().last().getByRole('link')).toHaveAttribute('href', 'https://bank.example/tx/991');

  await panel.send('Sorry about that, I am refunding one charge now.');
  await expect(panel.messages().last()).toContainText('Sorry about that');
  await expect(panel.page.locator('.msg.pending')).toHaveCount(0);
  const transcript = (await feed.api('GET', `/api/conversations/${id}`)).body.transcript as { from: string; text: string }[];
  expect(transcript.map((m) => [m.from, m.text])).toEqual([
    ['customer', maria.comment],
    ['customer', 'It was charged twice on the 3rd. See https://bank.example/tx/991'],
    ['agent', 'Sorry about that, I am refunding one charge now.'],
  ]);
});

test('two sessions at once: the newest is focused, each keeps its draft, and one can be ended', async ({ context, extension, feed, crm }) => {
  const { overlay } = await setup(context, extension, feed, crm.url());
  const panel = await PanelPage.open(context, extension.id);
  const first = await acceptFromOverlay(overlay, feed, maria);
  await expect(panel.tab('Maria Jansen')).toHaveAttribute('aria-selected', 'true');
  await panel.composer().fill('Draft for Maria');

  const tom = { scenario: 'chat', customer: { name: 'Tom Becker', email: 'tom.becker@example.de' }, comment: 'Can I change my delivery address?' };
  const second = await acceptFromOverlay(overlay, feed, tom);
  await expect(panel.tabs()).toHaveCount(2);
  await expect(panel.tab('Tom Becker')).toHaveAttribute('aria-selected', 'true');
  await expect(panel.composer()).toHaveValue('');
  await panel.composer().fill('Draft for Tom');

  await panel.tab('Maria Jansen').click();
  await expect(panel.composer()).toHaveValue('Draft for Maria');
  await panel.tab('Tom Becker').click();
  await expect(panel.composer()).toHaveValue('Draft for Tom');

  await panel.page.getByRole('button', { name: 'End conversation' }).click();
  await expect(panel.page.getByRole('status').filter({ hasText: 'You ended this conversation.' })).toBeVisible();
  await expect(panel.composer()).toHaveCount(0);
  await expect.poll(async () => (await feed.api('GET', `/api/conversations/${second}`)).body.conversation.status).toBe('ended');
  await panel.page.getByRole('button', { name: 'Close' }).click();
  await expect(panel.tabs()).toHaveCount(1);
  await expect(panel.tab('Maria Jansen')).toHaveAttribute('aria-selected', 'true');

  // The customer leaves the other one.
  await feed.api('POST', `/api/conversations/${first}/end`, {});
  await expect(panel.page.getByText('The customer left the conversation.')).toBeVisible();
  await expect(panel.composer()).toHaveCount(0);
});

test('a message the feed did not take shows as failed, and Retry delivers it once', async ({ context, extension, feed, crm }) => {
  const { overlay } = await setup(context, extension, feed, crm.url());
  const id = await acceptFromOverlay(overlay, feed, maria);
  const panel = await PanelPage.open(context, extension.id);
  await expect(panel.messages()).toHaveCount(1);

  const port = feed.server.port;
  await feed.server.close();
  await expect.poll(async () => (await extension.diagnostics())?.connection.status).not.toBe('open');
  // The agent is told that customer messages cannot arrive for now.
  const offline = panel.page.getByRole('status').filter({ hasText: /^Not connected to the conversation feed\./ });
  await expect(offline).toBeVisible();
  await panel.send('Are you still there?');
  await expect(panel.page.locator('.msg.failed')).toContainText('Not connected to the conversation feed.');
  await panel.page.screenshot({ path: 'test-results/sidepanel-offline.png' });

  await feed.start(port);
  await expect.poll(async () => (await extension.diagnostics())?.connection.status, { timeout: 20_000 }).toBe('open');
  await expect(offline).toHaveCount(0);
  await panel.page.getByRole('button', { name: 'Retry' }).click();
  await expect(panel.page.locator('.msg.pending')).toHaveCount(0);
  await expect(panel.messages().last()).toContainText('Are you still there?');
  const transcript = (await feed.api('GET', `/api/conversations/${id}`)).body.transcript as { text: string }[];
  expect(transcript.filter((m) => m.text === 'Are you still there?')).toHaveLength(1);
});

test('markup and script links in a chat are shown as text, and only web addresses become links', async ({ context, extension, feed, crm }) => {
  const { overlay } = await setup(context, extension, feed, crm.url());
  const name = '<img src=x onerror="window.pwned=1">Eve';
  const id = await acceptFromOverlay(overlay, feed, { ...maria, customer: { name, phone: '+31 6 12345678' }, comment: '<b>bold</b> <svg onload="window.pwned=2"></svg>' });
  const panel = await PanelPage.open(context, extension.id);
  const payloads = [
    '<script>window.pwned = 3</script>',
    '<a href="javascript:window.pwned=4">click me</a>',
    'javascript:window.pwned=5 and [link](javascript:window.pwned=6)',
    'data:text/html,<script>window.pwned=7</script>',
    '<iframe srcdoc="<script>parent.pwned=8</script>"></iframe> see https://help.example/a?b=<x>',
  ];
  for (const text of payloads) await feed.api('POST', `/api/conversations/${id}/messages`, { text });
  await panel.send('<img src=x onerror="window.pwned=9"> from the agent');
  await expect(panel.messages()).toHaveCount(payloads.length + 2);
  await expect(panel.page.locator('.msg.pending')).toHaveCount(0);

  await expect(panel.summary().getByRole('heading', { level: 1 })).toHaveText(name);
  await expect(panel.tab(name)).toBeVisible();
  const texts = await panel.messages().locator('.text').allTextContents();
  expect(texts).toEqual(['<b>bold</b> <svg onload="window.pwned=2"></svg>', ...payloads, '<img src=x onerror="window.pwned=9"> from the agent']);
  // Nothing in the page came from the payloads: no elements, no handlers run, links to the web only.
  const injected = ['img', 'script', 'iframe', 'b'].flatMap((tag) => ['.transcript', '.summary', '.tabs'].map((part) => `${part} ${tag}`));
  expect(await panel.page.locator([...injected, '.transcript svg'].join(', ')).count()).toBe(0);
  const hrefs = await panel.page.locator('main a[href]').evaluateAll((links) => links.map((a) => a.getAttribute('href')));
  expect(hrefs.filter((h) => !/^(https?|tel|mailto):/.test(h ?? ''))).toEqual([]);
  expect(hrefs).toContain('https://help.example/a?b=');
  expect(await panel.page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();

  // A photo the customer sent: a link the agent may open, never loaded by the panel on its own.
  const photo = 'https://media.example/photo.jpg?sig=<x>';
  expect((await feed.api('POST', `/api/conversations/${id}/messages`, { media: [{ url: photo, contentType: 'image/jpeg' }] })).status).toBe(201);
  expect((await feed.api('POST', `/api/conversations/${id}/messages`, { media: [{ url: 'javascript:window.pwned=10' }] })).status).toBe(400);
  const media = panel.messages().last().locator('.media a');
  await expect(media).toHaveText('Attachment 1 (image/jpeg)');
  expect(await media.getAttribute('href')).toBe(new URL(photo).href);
  expect(await panel.page.locator('main img, main video, main audio').count()).toBe(0);
});

test('a bot escalation shows what the bot and the customer said; a transfer shows who handed it over', async ({ context, extension, feed, crm }) => {
  const { overlay } = await setup(context, extension, feed, crm.url());
  const panel = await PanelPage.open(context, extension.id);
  const now = Date.now();
  await acceptFromOverlay(overlay, feed, {
    scenario: 'bot-escalation',
    customer: { name: 'Emma de Vries' },
    comment: 'I want to talk to a person.',
    context: {
      reason: 'The bot could not find the reservation',
      botTranscript: [
        { id: 'b1', conversationId: 'bot', from: 'customer', text: 'Where is reservation 5521?', at: now - 60_000 },
        { id: 'b2', conversationId: 'bot', from: 'bot', text: 'I could not find that reservation.', at: now - 55_000, author: 'Deskbell bot' },
      ],
    },
  });
  await expect(panel.fact('Reason')).toHaveText('The bot could not find the reservation');
  await panel.page.getByText('What the bot and the customer said (2)').click();
  await expect(panel.page.locator('.bot li')).toHaveText(['Customer: Where is reservation 5521?', 'Deskbell bot: I could not find that reservation.']);

  await acceptFromOverlay(overlay, feed, { scenario: 'transfer', customer: { name: 'Sofia Rossi' }, comment: 'Refund for a damaged parcel.', context: { fromAgent: 'Sam Lee', reason: 'Needs a supervisor' } });
  await expect(panel.fact('Transferred by')).toHaveText('Sam Lee');
});

test('a long transcript stays usable: a thousand messages, and the composer still answers', async ({ context, extension, feed, crm }) => {
  const { overlay } = await setup(context, extension, feed, crm.url());
  const id = await acceptFromOverlay(overlay, feed, maria);
  const panel = await PanelPage.open(context, extension.id);
  for (let i = 1; i <= 1000; i++) feed.server.service.postMessage(id, `Line ${i} of the customer's long story`);
  await expect(panel.messages()).toHaveCount(1001, { timeout: 30_000 });
  await expect(panel.messages().last()).toContainText('Line 1000');
  await panel.send('Thanks, reading it now.');
  await expect(panel.messages().last()).toContainText('Thanks, reading it now.');
});

for (const theme of ['dark', 'light'] as const) {
  test(`side panel screenshot, ${theme} theme`, async ({ context, extension, feed, crm }) => {
    await extension.updateSettings({ theme });
    const { overlay } = await setup(context, extension, feed, crm.url());
    await acceptFromOverlay(overlay, feed, { scenario: 'chat', customer: { name: 'Tom Becker', email: 'tom.becker@example.de' }, comment: 'Can I change the delivery address?' });
    const id = await acceptFromOverlay(overlay, feed, maria);
    const panel = await PanelPage.open(context, extension.id);
    await feed.api('POST', `/api/conversations/${id}/messages`, { text: 'It was charged twice on the 3rd.' });
    await expect(panel.messages()).toHaveCount(2);
    await panel.send('Sorry about that — I am refunding one charge now.');
    await expect(panel.page.locator('.msg.from-agent:not(.pending)')).toHaveCount(1);
    await expect(panel.page.locator('html')).toHaveClass(`theme-${theme}`);
    await panel.page.screenshot({ path: readmeShot(`sidepanel-${theme}.png`) });
  });
}
