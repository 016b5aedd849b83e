/** Page object for the side panel page (opened in a tab: Playwright cannot drive the real panel). */
import type { BrowserContext, Locator, Page } from '@playwright/test';

export class PanelPage {
  private constructor(readonly page: Page) {}

  static async open(context: BrowserContext, extensionId: string): Promise<PanelPage> {
    const page = await context.newPage();
    await page.setViewportSize({ width: 400, height: 760 });
    await page.goto(`chrome-extension://${extensionId}/sidepanel.html`);
    return new PanelPage(page);
  }

  tabs(): Locator {
    return this.page.getByRole('tab');
  }

  tab(name: string): Locator {
    return this.page.getByRole('tab', { name });
  }

  summary(): Locator {
    return this.page.locator('header.summary');
  }

  fact(label: string): Locator {
    return this.summary().locator('.facts div').filter({ has: this.page.locator('dt', { hasText: label }) }).locator('dd');
  }

  messages(): Locator {
    return this.page.locator('.transcript .msg');
  }

  composer(): Locator {
    return this.page.locator('.composer textarea');
  }

  async send(text: string): Promise<void> {
    await this.composer().fill(text);
    await this.composer().press('Enter');
  }
}

/** True when Chrome has the side panel page open somewhere (a CDP target), whether or not Playwright lists it. */
export async function sidePanelIsOpen(context: BrowserContext, extensionId: string): Promise<boolean> {
  const cdp = await context.browser()!.newBrowserCDPSession();
  const { targetInfos } = await cdp.send('Target.getTargets');
  await cdp.detach();
  return targetInfos.some((t) => t.type === 'page' && t.url === `chrome-extension://${extensionId}/sidepanel.html`);
}
