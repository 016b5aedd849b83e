/**
 * What the agent does about a customer the lookup did not settle: search the
 * CRM by name (the results become candidates to pick from) or create a
 * contact prefilled with the customer's name, number and address. The choice
 * sticks to the conversation, and is what its write-back uses.
 */
import { ADAPTERS } from '../../utils/crm';
import type { CrmApi } from '../../utils/crm/api';
import type { CrmOrg, Identification } from '../../utils/crm/types';
import { t } from '../../utils/i18n';
import type { CommandResult } from '../../utils/messages';
import { setIdentification } from './feed-state';
import type { StateKeeper } from './state-keeper';

export class CrmActions {
  constructor(
    private readonly keeper: StateKeeper,
    private readonly api: (org: CrmOrg) => CrmApi,
    private readonly findOrgs: () => Promise<CrmOrg[]>,
  ) {}

  /** The org the conversation's customer was looked up in, or else the first one open. */
  async #org(conversationId: string): Promise<CrmOrg | undefined> {
    const ident = this.keeper.state.identifications[conversationId];
    if (ident && 'org' in ident && ident.org) return ident.org;
    return (await this.findOrgs())[0];
  }

  async search(conversationId: string, text: string): Promise<CommandResult> {
    await this.keeper.ready;
    const session = this.keeper.state.sessions[conversationId];
    if (!session) return { ok: false, error: t('error_no_session') };
    const org = await this.#org(conversationId);
    if (!org) return { ok: false, error: t('lookup_no_tab') };
    try {
      const candidates = await ADAPTERS[org.crm].findByName(this.api(org), text);
      if (candidates.length === 0) return { ok: false, error: t('search_none', text) };
      const phone = session.conversation.customer.phone;
      const next: Identification = { status: 'ambiguous', ...(phone ? { phone } : {}), org, candidates, searched: text };
      await this.keeper.update((s) => (s.sessions[conversationId] ? setIdentification(s, conversationId, next) : s));
      return { ok: true };
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    }
  }

  async create(conversationId: string, name: string): Promise<CommandResult> {
    await this.keeper.ready;
    const session = this.keeper.state.sessions[conversationId];
    if (!session) return { ok: false, error: t('error_no_session') };
    if (this.keeper.state.identifications[conversationId]?.status === 'matched') return { ok: false, error: t('error_already_linked') };
    const org = await this.#org(conversationId);
    if (!org) return { ok: false, error: t('lookup_no_tab') };
    const { phone, email } = session.conversation.customer;
    try {
      const contact = await ADAPTERS[org.crm].createContact(this.api(org), { name, ...(phone ? { phone } : {}), ...(email ? { email } : {}) });
      const next: Identification = { status: 'matched', ...(phone ? { phone } : {}), org, contact };
      await this.keeper.update((s) => (s.sessions[conversationId] ? setIdentification(s, conversationId, next) : s));
      return { ok: true };
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    }
  }
}
