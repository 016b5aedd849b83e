import { describe, expect, it, vi } from 'vitest';
import { ChatMessageCommand, commandHandler, OfferCommand } from './commands';

const ORIGIN = 'chrome-extension://abcdefghijklmnop/';
const fromCrmTab = { tab: { id: 7 }, url: 'https://contoso.crm4.dynamics.com/main.aspx' };
const fromSidePanel = { url: `${ORIGIN}sidepanel.html` };

describe('commandHandler', () => {
  it('refuses a malformed payload before the handler sees it', async () => {
    const handle = vi.fn(() => ({ ok: true as const }));
    const accept = commandHandler(OfferCommand, handle);
    for (const data of [undefined, null, 'o1', { offerId: 42 }, { offerId: '' }, { offerId: 'x'.repeat(500) }]) {
      expect(await accept({ data, sender: fromCrmTab })).toMatchObject({ ok: false, error: expect.stringContaining('malformed') });
    }
    expect(handle).not.toHaveBeenCalled();
    expect(await accept({ data: { offerId: 'o1' }, sender: fromCrmTab })).toEqual({ ok: true });
  });

  it('lets only the extension\'s own pages chat with a customer, whatever a content script sends', async () => {
    const handle = vi.fn(() => ({ ok: true as const }));
    const send = commandHandler(ChatMessageCommand, handle, { extensionOrigin: ORIGIN });
    const data = { conversationId: 'c1', clientMsgId: 'm1', text: 'hello' };
    expect(await send({ data, sender: fromCrmTab })).toMatchObject({ ok: false, error: expect.stringContaining('Refused') });
    expect(await send({ data, sender: { url: 'chrome-extension://someoneelse/page.html' } })).toMatchObject({ ok: false });
    expect(await send({ data })).toMatchObject({ ok: false });
    expect(handle).not.toHaveBeenCalled();
    expect(await send({ data, sender: fromSidePanel })).toEqual({ ok: true });
  });
});
