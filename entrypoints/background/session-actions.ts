/**
 * What the side panel asks of a conversation that is the agent's: send a
 * message, end it, close it once ended, pick which CRM contact the customer
 * is. Answered only for the extension's own pages (index.ts wires them so).
 */
import { t } from '../../utils/i18n';
import type { CommandResult } from '../../utils/messages';
import { closeSession, pickContact } from './feed-state';
import type { FeedSender } from './offer-actions';
import type { StateKeeper } from './state-keeper';

export class SessionActions {
  constructor(
    private readonly keeper: StateKeeper,
    private readonly feed: FeedSender,
  ) {}

  async send(conversationId: string, clientMsgId: string, text: string): Promise<CommandResult> {
    await this.keeper.ready;
    const session = this.keeper.state.sessions[conversationId];
    if (!session) return { ok: false, error: t('error_not_open') };
    if (session.endedBy) return { ok: false, error: t('error_ended') };
    return this.feed.send({ type: 'send', conversationId, clientMsgId, text }) ? { ok: true } : { ok: false, error: t('error_not_connected') };
  }

  async end(conversationId: string): Promise<CommandResult> {
    await this.keeper.ready;
    const session = this.keeper.state.sessions[conversationId];
    if (!session) return { ok: false, error: t('error_not_open') };
    if (session.endedBy) return { ok: true };
    return this.feed.send({ type: 'end', conversationId }) ? { ok: true } : { ok: false, error: t('error_not_connected') };
  }

  async close(conversationId: string): Promise<CommandResult> {
    await this.keeper.ready;
    if (!this.keeper.state.sessions[conversationId]?.endedBy) return { ok: false, error: t('error_end_first') };
    await this.keeper.update((s) => closeSession(s, conversationId));
    return { ok: true };
  }

  async pickContact(conversationId: string, contactId: string): Promise<CommandResult> {
    await this.keeper.ready;
    const next = await this.keeper.update((s) => pickContact(s, conversationId, contactId));
    return next.identifications[conversationId]?.status === 'matched' ? { ok: true } : { ok: false, error: t('error_not_a_match') };
  }
}
