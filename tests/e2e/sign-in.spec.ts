/**
 * Issue 22: an agent's whole shift with no static token anywhere, against a
 * real OpenID provider (oidc-provider) on 127.0.0.1. The agent signs in on
 * the provider's login page through launchWebAuthFlow, the feed knows them by
 * their e-mail claim, offers come and are accepted and answered, the token is
 * renewed on the open connection, and when the provider revokes everything
 * the extension says so and asks to sign in again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import type { BrowserContext, Page } from '@playwright/test';
import { CLOSE } from '../../server/feed-server';
import { TestAgent } from '../../server/test-agent';
import type { StoredSignIn } from '../../utils/oidc';
import { expect, Feed, readmeShot, test } from './fixtures';
import { startTestProvider, TEST_USERS } from './oidc-provider';
import { PanelPage } from './panel-page';
import { chat, openCrm } from './steps';

const CLIENT_ID = 'deskbell-e2e';
/** ID tokens live 6 s (renewed at 3 s); the feed allows 2 s of clock difference, so a session without renewal ends 8 s in. */
const TOLERANCE_SEC = 2;

/**
 * The popup in both colour schemes: a screenshot to look at
 * (test-results/screenshots), and axe's WCAG 2.2 AA rules on the sign-in
 * section, which the popup audit in a11y.spec.ts never sees (it has no sign-in).
 */
async function shotsAndAudit(page: Page, name: string): Promise<void> {
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    await page.screenshot({ path: readmeShot(`${name}-${colorScheme}.png`) });
    const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']).include('.sign-in').analyze();
    expect([...results.violations, ...results.incomplete].map((r) => `${colorScheme} ${r.id}: ${r.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
  }
  await page.emulateMedia({ colorScheme: null });
}
const SAM = TEST_USERS[0]!;

/** Clicks Sign in on an extension page and signs in on the provider's page that opens. */
async function signInThrough(context: BrowserContext, page: Page, issuer: string, password = SAM.password): Promise<Page> {
  const opened = context.waitForEvent('page', { predicate: (p) => p.url().startsWith(issuer) });
  await page.getByRole('button', { name: 'Sign in' }).click();
  const login = await opened;
  await login.getByLabel('E-mail').fill(SAM.email);
  await login.getByLabel('Password').fill(password);
  await login.getByRole('button', { name: 'Sign in' }).click();
  return login;
}

test('an agent signs in with the organisation provider, works a conversation, is renewed, and is asked to sign in again when revoked', async ({ context, extension, crm }) => {
  test.setTimeout(90_000);
  const provider = await startTestProvider({ idTokenTtlSec: 6 });
  const dataDir = mkdtempSync(path.join(tmpdir(), 'deskbell-feed-'));
  // No static token anywhere: the agents file names Sam by e-mail only.
  const feed = await new Feed(dataDir, { agents: [{ id: 'agent-sam', name: 'Sam Jones', login: SAM.email }], signIn: { issuer: provider.issuer, audiences: [CLIENT_ID], clockToleranceSec: TOLERANCE_SEC } }).start();
  try {
    provider.registerClient(CLIENT_ID, `https://${extension.id}.chromiumapp.org/`, `chrome-extension://${extension.id}`);
    const { overlay } = await openCrm(context, crm.url());
    await extension.updateSettings({ feedUrl: feed.url, feedToken: '', signInIssuer: provider.issuer, signInClientId: CLIENT_ID });
    await expect.poll(async () => (await extension.diagnostics()).connection).toMatchObject({ status: 'idle', lastError: 'Sign in to receive offers.' });

    const popup = await context.newPage();
    await popup.goto(`chrome-extension://${extension.id}/popup.html`);
    await expect(popup.locator('[data-sign-in="signed-out"]')).toContainText('Sign in with your organisation account');
    // A wrong password stays on the provider's page.
    const login = await signInThrough(context, popup, provider.issuer, 'wrong');
    await expect(login.getByRole('alert')).toHaveText('Wrong e-mail or password.');
    await login.getByLabel('E-mail').fill(SAM.email);
    await login.getByLabel('Password').fill(SAM.password);
    await login.getByRole('button', { name: 'Sign in' }).click();
    await expect(popup.locator('[data-sign-in="signed-in"]')).toContainText('Signed in as Sam Jones (sam@example.com)');
    await expect.poll(async () => (await extension.diagnostics()).connection).toMatchObject({ status: 'open', agentId: 'agent-sam' });
    expect(provider.logins).toEqual([SAM.email]);
    await shotsAndAudit(popup, 'popup-signed-in');

    // The shift: an offer, accepted, answered.
    const { body } = await feed.createConversation(chat('Maria Jansen'));
    await expect.poll(async () => (await overlay.cards()).map((c) => c.customer)).toEqual(['Maria Jansen']);
    await overlay.page.bringToFront();
    await overlay.click('button.accept', (await overlay.cards())[0]!.id);
    await expect.poll(async () => (await feed.api('GET', `/api/conversations/${body.conversation.id}`)).body.conversation.status).toBe('active');
    const panel = await PanelPage.open(context, extension.id);
    await panel.send('Hello Maria, Sam here.');
    await expect
      .poll(async () => ((await feed.api('GET', `/api/conversations/${body.conversation.id}`)).body.transcript as { from: string; text: string }[]).map((m) => m.from))
      .toEqual(['customer', 'agent']);

    // The first token ends: it was renewed on the open connection, which carries on.
    const stored = async () => (await extension.worker()).evaluate(async () => (await chrome.storage.session.get('signIn')).signIn as StoredSignIn | undefined);
    const first = (await stored())!;
    await expect.poll(() => Date.now() > first.expiresAt + TOLERANCE_SEC * 1000 + 2000, { timeout: 20_000 }).toBe(true);
    expect((await stored())!.idToken).not.toBe(first.idToken);
    expect(feed.server.stats.signInsEnded).toBe(0);
    expect((await extension.diagnostics()).connection).toMatchObject({ status: 'open' });
    expect(feed.server.stats.connections).toBe(1);

    // The provider ends everything (the employee left): the next renewal is refused, and the agent is told.
    const last = (await stored())!;
    provider.revokeUser(SAM.sub);
    await expect(popup.locator('[data-sign-in="signed-out"]')).toContainText('Sign in with your organisation account', { timeout: 20_000 });
    await expect(popup.locator('.sign-in-error')).toHaveText('Your sign-in has ended: the sign-in provider asks you to sign in again.');
    await shotsAndAudit(popup, 'popup-signed-out');
    const panelAfter = await PanelPage.open(context, extension.id);
    await panel.page.close();
    await expect(panelAfter.page.locator('[data-sign-in="signed-out"]')).toBeVisible();
    for (const theme of ['light', 'dark'] as const) {
      await extension.updateSettings({ theme });
      await panelAfter.page.screenshot({ path: readmeShot(`sign-in-panel-${theme}.png`) });
    }
    const options = await context.newPage();
    await options.goto(`chrome-extension://${extension.id}/options.html`);
    await expect(options.locator('#f-redirect-uri')).toHaveValue(`https://${extension.id}.chromiumapp.org/`);
    await expect(options.locator('#f-sign-in-origin')).toHaveValue(`chrome-extension://${extension.id}`);
    await expect(options.locator('[data-diag="sign-in"]')).toContainText('Your sign-in has ended');
    await options.locator('[data-setting="signInIssuer"]').screenshot({ path: readmeShot('sign-in-options.png') });
    await options.locator('section').first().screenshot({ path: readmeShot('sign-in-options-section.png') });
    await options.close();
    await expect.poll(async () => (await extension.diagnostics()).connection).toMatchObject({ status: 'idle', lastError: 'Sign in to receive offers.' });
    await expect.poll(async () => (await feed.api('GET', '/api/agents/agent-sam')).body.connected).toBe(false);
    // The feed refuses the last token once it has ended.
    await expect.poll(() => Date.now() > last.expiresAt + TOLERANCE_SEC * 1000 + 500).toBe(true);
    const replay = await TestAgent.connect(feed.url, last.idToken);
    expect(await replay.next('error')).toMatchObject({ code: 'unauthorized', message: expect.stringContaining('expired') });
    await expect.poll(() => replay.closed?.code).toBe(CLOSE.unauthorized);

    // Signing in again (a password again: the provider's session is gone) brings the offers back.
    await signInThrough(context, popup, provider.issuer);
    await expect.poll(async () => (await extension.diagnostics()).connection).toMatchObject({ status: 'open', agentId: 'agent-sam' });
    expect(provider.logins).toEqual([SAM.email, SAM.email]);
    await feed.createConversation(chat('Kees de Vries'));
    await expect.poll(async () => (await overlay.cards()).map((c) => c.customer)).toContain('Kees de Vries');
  } finally {
    await feed.server.close().catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
    await provider.close();
  }
});
