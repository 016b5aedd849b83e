import { expect, test } from './fixtures';
import { CONTACTS, type FakeDynamics, startFakeDynamics } from './fake-dynamics';
import { OverlayPage } from './overlay-page';
import { PanelPage } from './panel-page';

let org: FakeDynamics;
test.beforeEach(async () => void (org = await startFakeDynamics()));
test.afterEach(async () => org.close());

const sms = (phone: string, comment = 'Hi, my invoice shows a double charge.') => ({ scenario: 'sms', customer: { name: phone, phone }, comment });
const recordOf = (name: string) => `${org.origin}/main.aspx?pagetype=entityrecord&etn=contact&id=${CONTACTS.find((c) => c.fullname === name)!.contactid}`;

test('an SMS is linked to the contact whose mobile phone is the same number in another format', async ({ context, extension, feed }) => {
  await extension.configureFeed(feed.url);
  const crm = await context.newPage();
  await crm.goto(org.orgUrl);
  const overlay = new OverlayPage(crm);
  await expect.poll(() => overlay.hostCount()).toBe(1);

  // Stored as "06-1234 5678"; Piet Smit's "06 8765 5678" shares the last digits and must not match.
  const { body } = await feed.createConversation(sms('+31 6 12345678'));
  await expect.poll(async () => (await overlay.cards())[0]?.customer).toBe('Maria Jansen');
  const link = await overlay.evaluate<{ text: string; href: string }>(`function () { const a = this.querySelector('.ident a'); return { text: a.textContent, href: a.href }; }`);
  expect(link).toEqual({ text: 'Open record', href: recordOf('Maria Jansen') });
  expect(decodeURIComponent(org.queries[0]!)).toContain("$filter=contains(mobilephone,'5678') or contains(mobilephone,'56 78')");

  // The link works: it opens Maria's record in the org.
  const record = await context.newPage();
  await record.goto(link!.href);
  await expect(record.locator('#record-name')).toHaveText('Maria Jansen');

  await crm.bringToFront();
  await overlay.click('button.accept');
  await expect.poll(async () => (await feed.api('GET', `/api/conversations/${body.conversation.id}`)).body.conversation.status).toBe('active');
  const panel = await PanelPage.open(context, extension.id);
  await expect(panel.summary().locator('.name')).toHaveText('Maria Jansen');
  await expect(panel.summary()).toContainText('Mobile phone matches a CRM contact');
  await expect(panel.summary().locator('.record-link')).toHaveAttribute('href', recordOf('Maria Jansen'));
  await expect(panel.fact('Email')).toHaveText('maria.jansen@example.nl');
});

test('no match, an unreadable number and a failing CRM are said, and never hold the alert back', async ({ context, extension, feed }) => {
  await extension.configureFeed(feed.url);
  const crm = await context.newPage();
  await crm.goto(org.orgUrl);
  const overlay = new OverlayPage(crm);
  await expect.poll(() => overlay.hostCount()).toBe(1);

  await feed.createConversation(sms('+31 6 11112222'));
  await expect.poll(async () => (await overlay.cards())[0]?.buttons).toEqual(['Accept', 'Reject']);
  await expect.poll(() => overlay.evaluate<string>(`function () { return this.querySelector('.ident')?.textContent; }`)).toBe('No CRM contact has +31611112222 as mobile phone.');

  await feed.createConversation(sms('+49 151 23456789'));
  await expect.poll(async () => (await overlay.cards()).map((c) => c.customer)).toEqual(['+31 6 11112222', 'Tom Becker']);

  const lastIdent = () => overlay.evaluate<string>(`function () { return [...this.querySelectorAll('.ident')].at(-1)?.textContent; }`);
  await feed.createConversation(sms('call me'));
  await expect.poll(lastIdent).toBe('"call me" is not a phone number that can be read.');

  org.mode = 'fail';
  await feed.createConversation(sms('0655500000'));
  await expect.poll(() => overlay.evaluate<string>(`function () { return this.querySelector('.more')?.textContent; }`)).toBe('+1 more');
  await overlay.click('.more');
  await expect.poll(async () => (await overlay.cards()).length).toBe(4);
  await expect.poll(lastIdent).toBe('Dynamics 365 answered 500 Internal Server Error');
  expect((await overlay.cards())[3]!.buttons).toEqual(['Accept', 'Reject']);
});

test('several contacts with the number: the agent picks one in the summary', async ({ context, extension, feed }) => {
  await extension.configureFeed(feed.url);
  const crm = await context.newPage();
  await crm.goto(org.orgUrl);
  const overlay = new OverlayPage(crm);
  await expect.poll(() => overlay.hostCount()).toBe(1);

  await feed.createConversation(sms('0031 6 555 12345'));
  await expect
    .poll(() => overlay.evaluate<string>(`function () { return this.querySelector('.ident')?.textContent; }`))
    .toBe('2 CRM contacts have this number: choose one in the panel.');
  await overlay.click('button.accept');
  const panel = await PanelPage.open(context, extension.id);
  await expect(panel.page.getByRole('group', { name: 'Several CRM contacts have this number. Which one is it?' })).toBeVisible();
  await panel.page.getByRole('button', { name: 'This one: Jan de Boer jr.' }).click();
  await expect(panel.summary().locator('.name')).toHaveText('Jan de Boer jr.');
  await expect(panel.summary()).toContainText('Chosen from the contacts with this number');
  await expect(panel.summary().locator('.record-link')).toHaveAttribute('href', recordOf('Jan de Boer jr.'));
});
