import AxeBuilder from '@axe-core/playwright';
import type { BrowserContext, Page } from '@playwright/test';
import type { FakeDataverse } from '../../demo/fake-crm/dataverse';
import type { FakeSalesforce } from '../../demo/fake-crm/salesforce';
import { startDataverse, startSalesforce } from './crm-orgs';
import { expect, test } from './fixtures';
import { OverlayPage } from './overlay-page';
import { PanelPage } from './panel-page';

const sms = (phone: string, comment = 'Hi, my invoice shows a double charge.') => ({ scenario: 'sms', customer: { name: phone, phone }, comment });
const identLine = (overlay: OverlayPage) => overlay.evaluate<string>(`function () { return [...this.querySelectorAll('.ident')].at(-1)?.textContent; }`);

/** WCAG 2.0–2.2 A and AA on the side panel, as in a11y.spec.ts: nothing violated, nothing left undecided. */
async function audit(page: Page): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']).analyze();
  expect([...results.violations, ...results.incomplete].map((r) => `${r.id}: ${r.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
}

async function openCrm(context: BrowserContext, url: string): Promise<{ page: Page; overlay: OverlayPage }> {
  const page = await context.newPage();
  await page.goto(url);
  const overlay = new OverlayPage(page);
  await expect.poll(() => overlay.hostCount()).toBe(1);
  return { page, overlay };
}

test.describe('Dynamics 365', () => {
  let org: FakeDataverse;
  test.beforeEach(async () => void (org = await startDataverse()));
  test.afterEach(async () => org.close());

  test('the right contact among 5,000, its account and cases, a screen pop on Accept, and one timeline entry after End though the first write failed', async ({ context, extension, feed }) => {
    await extension.configureFeed(feed.url);
    await extension.updateSettings({ screenPop: 'new-tab' });
    const { overlay } = await openCrm(context, org.orgUrl);
    const maria = org.contact('Maria Jansen');

    // 1,200 contacts share "5678"; Maria's is typed "06-1234 5678". Every page is read.
    const { body } = await feed.createConversation(sms('+31 6 12345678'));
    await expect.poll(async () => (await overlay.cards())[0]?.customer).toBe('Maria Jansen');
    expect(org.requests.filter((r) => r.path.endsWith('/contacts')).length).toBeGreaterThanOrEqual(3);

    await overlay.click('button.accept');
    // Screen pop: Maria's record in a new tab.
    await expect.poll(() => context.pages().some((p) => p.url() === org.recordUrl('contact', maria.contactid))).toBe(true);
    const record = context.pages().find((p) => p.url() === org.recordUrl('contact', maria.contactid))!;
    await expect(record.locator('#record-name')).toHaveText('Maria Jansen');

    const panel = await PanelPage.open(context, extension.id);
    await expect(panel.summary().locator('.name')).toHaveText('Maria Jansen');
    await expect(panel.tab('Maria Jansen')).toBeVisible();
    await expect(panel.summary()).toContainText('Mobile phone matches a Dynamics 365 contact');
    await expect(panel.fact('Job title')).toHaveText('Owner');
    await expect(panel.fact('Account')).toHaveText('Jansen Bakkerij');
    await expect(panel.summary().locator('.cases li')).toHaveText([/CAS-0199 · Double charge on invoice\s*Active/, /CAS-0107 · Oven warranty\s*Resolved/]);
    await expect(panel.summary().locator('.activities li')).toHaveText([/Call back about the refund/]);
    for (const theme of ['dark', 'light'] as const) {
      await extension.updateSettings({ theme });
      await expect(panel.page.locator('html')).toHaveClass(`theme-${theme}`);
      await panel.page.screenshot({ path: `test-results/screenshots/crm-summary-${theme}.png` });
      await audit(panel.page);
    }

    await panel.send('Refunded: you will see it within three days.');
    await expect(panel.messages().last()).toContainText('Refunded');

    // End: the org writes the task, but its answer is lost; the retry must not add a second one.
    org.failNext({ kind: 'lost', method: 'PATCH', path: 'tasks(' });
    await panel.page.getByRole('button', { name: 'End conversation' }).click();
    await expect(panel.page.locator('.write-back')).toContainText('Not yet saved to Dynamics 365');
    await expect(panel.page.locator('.write-back')).toHaveText("Saved to the contact's timeline in Dynamics 365.", { timeout: 20_000 });
    const written = org.tasksOf(maria.contactid).filter((t) => t.statecode === 1);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject({ subject: 'Deskbell sms conversation with Maria Jansen', category: 'sms' });
    expect(String(written[0]!.description)).toContain('Maria Jansen: Hi, my invoice shows a double charge.');
    expect(String(written[0]!.description)).toContain('Refunded: you will see it within three days.');
    expect(org.requests.filter((r) => r.method === 'PATCH')).toHaveLength(2);
    await record.reload();
    await expect(record.locator('#timeline li').filter({ hasText: 'Deskbell sms conversation' })).toHaveCount(1);
    expect((await feed.api('GET', `/api/conversations/${body.conversation.id}`)).body.conversation.status).toBe('ended');
  });

  test('several matches, no match, a search by name and a new contact: the choice sticks and names the customer everywhere', async ({ context, extension, feed }) => {
    await extension.configureFeed(feed.url);
    const { overlay } = await openCrm(context, org.orgUrl);

    await feed.createConversation(sms('0031 6 555 12345'));
    await expect.poll(() => identLine(overlay)).toBe('2 CRM contacts have this number: choose one in the panel.');
    await overlay.click('button.accept');
    const panel = await PanelPage.open(context, extension.id);
    await panel.page.getByRole('button', { name: 'This one: Jan de Boer jr.' }).click();
    await expect(panel.summary().locator('.name')).toHaveText('Jan de Boer jr.');
    await expect(panel.summary()).toContainText('Chosen by you in Dynamics 365');
    await expect(panel.tab('Jan de Boer jr.')).toBeVisible();

    // An unknown number: the agent searches by name, and picks.
    await feed.createConversation(sms('+31 6 11112222', 'It is Aisha, from my husband’s phone.'));
    await expect.poll(() => identLine(overlay)).toBe('No CRM contact has +31611112222 as a phone number.');
    await overlay.click('button.accept');
    await panel.tab('+31 6 11112222').click();
    await expect(panel.page.getByRole('textbox', { name: 'Name in Dynamics 365' })).toBeVisible();
    await audit(panel.page);
    await panel.page.getByRole('textbox', { name: 'Name in Dynamics 365' }).fill('khan');
    await panel.page.getByRole('button', { name: 'Search' }).click();
    await panel.page.getByRole('button', { name: 'This one: Aisha Khan' }).click();
    await expect(panel.tab('Aisha Khan')).toBeVisible();
    await expect(panel.summary()).toContainText('Chosen by you in Dynamics 365');
    await expect(panel.messages().first().locator('.author')).toHaveText('Aisha Khan');

    // Another unknown number: nobody by that name either, so the agent creates the contact.
    await feed.createConversation(sms('+31 6 33334444', 'New customer here.'));
    await expect.poll(() => identLine(overlay)).toBe('No CRM contact has +31633334444 as a phone number.');
    await overlay.click('button.accept');
    await panel.tab('+31 6 33334444').click();
    await panel.page.getByRole('textbox', { name: 'Name in Dynamics 365' }).fill('Zed Quist');
    await panel.page.getByRole('button', { name: 'Search' }).click();
    await expect(panel.page.locator('.notice')).toHaveText('No contact\'s name contains "Zed Quist".');
    await panel.page.screenshot({ path: 'test-results/screenshots/crm-find-contact.png' });
    await panel.page.getByRole('textbox', { name: 'Name of the new contact' }).fill('Zed Quist');
    await panel.page.getByRole('button', { name: 'Create contact' }).click();
    await expect(panel.tab('Zed Quist')).toBeVisible();
    await expect(panel.summary()).toContainText('Created by you in Dynamics 365');
    const zed = org.contact('Zed Quist');
    expect(zed).toMatchObject({ firstname: 'Zed', lastname: 'Quist', mobilephone: '+31 6 33334444' });

    // Ended, the conversation goes to the contact the agent chose.
    await panel.page.getByRole('button', { name: 'End conversation' }).click();
    await expect(panel.page.locator('.write-back')).toHaveText("Saved to the contact's timeline in Dynamics 365.");
    expect(org.tasksOf(zed.contactid)).toHaveLength(1);
  });

  test('a signed-out org, a throttled org and an unreadable number are said plainly, and never hold the alert back', async ({ context, extension, feed }) => {
    await extension.configureFeed(feed.url);
    const { overlay } = await openCrm(context, org.orgUrl);

    await feed.createConversation(sms('call me'));
    await expect.poll(() => identLine(overlay)).toBe('"call me" is not a phone number that can be read.');

    org.expireSession();
    await feed.createConversation(sms('+31 6 12345678'));
    await expect.poll(() => identLine(overlay)).toBe('Dynamics 365 refused the request: the session has ended. Sign in to your Dynamics 365 tab again.');
    expect((await overlay.cards()).at(-1)!.buttons).toEqual(['Accept', 'Reject']);

    await context.pages().find((p) => p.url().startsWith(org.origin))!.reload(); // signs in again
    await expect.poll(() => overlay.hostCount()).toBe(1);
    org.failNext({ kind: 'throttle', retryAfterS: 120 });
    await feed.createConversation(sms('+49 151 23456789'));
    await expect.poll(async () => (await overlay.cards()).length).toBe(3);
    await expect.poll(() => identLine(overlay)).toBe('Dynamics 365 is busy (too many requests). Trying again in 120 s.');
  });
});

test.describe('Salesforce', () => {
  let org: FakeSalesforce;
  test.beforeEach(async () => void (org = await startSalesforce()));
  test.afterEach(async () => org.close());

  test("the right contact among 5,000 with the Lightning tab's session, account and cases, a screen pop in the org tab, and one Task after End though the first write failed", async ({ context, extension, feed }) => {
    await extension.configureFeed(feed.url);
    await extension.updateSettings({ screenPop: 'org-tab' });
    const { page: lightning, overlay } = await openCrm(context, org.homeUrl);
    const maria = org.contact('Maria Jansen');

    await feed.createConversation(sms('+31612345678'));
    await expect.poll(async () => (await overlay.cards())[0]?.customer).toBe('Maria Jansen');
    const queries = org.requests.filter((r) => r.path.includes('/query'));
    expect(queries.length).toBeGreaterThanOrEqual(3); // the first batch and the nextRecordsUrl ones
    expect(queries[0]!.query).toContain("MobilePhone LIKE '%56 78%'");

    await overlay.click('button.accept');
    // Screen pop in the Lightning tab the agent has open.
    await expect(lightning).toHaveURL(org.recordUrl('Contact', maria.Id));
    await expect(lightning.locator('#record-name')).toHaveText('Maria Jansen');

    const panel = await PanelPage.open(context, extension.id);
    await expect(panel.summary().locator('.name')).toHaveText('Maria Jansen');
    await expect(panel.summary()).toContainText('Mobile phone matches a Salesforce contact');
    await expect(panel.fact('Account')).toHaveText('Jansen Bakkerij');
    await expect(panel.summary().locator('.cases li')).toHaveText([/CAS-0199 · Double charge on invoice\s*New/, /CAS-0107 · Oven warranty\s*Closed/]);
    await expect(panel.summary().locator('.record-link')).toHaveAttribute('href', org.recordUrl('Contact', maria.Id));

    org.failNext({ kind: 'lost', method: 'POST', path: 'sobjects/Task' });
    await panel.page.getByRole('button', { name: 'End conversation' }).click();
    await expect(panel.page.locator('.write-back')).toContainText('Not yet saved to Salesforce');
    await expect(panel.page.locator('.write-back')).toHaveText("Saved to the contact's timeline in Salesforce.", { timeout: 20_000 });
    const tasks = org.tasksOf(maria.Id).filter((t) => t.Status === 'Completed');
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({ Subject: expect.stringMatching(/^Deskbell sms conversation with Maria Jansen \[DB-[0-9a-f-]+\]$/), TaskSubtype: 'Task' });
    await lightning.reload();
    await expect(lightning.locator('#timeline li').filter({ hasText: 'Deskbell sms conversation' })).toHaveCount(1);
  });
});
