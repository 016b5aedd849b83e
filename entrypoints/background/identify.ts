/**
 * Links a conversation to its customer's CRM contact: by the id the channel
 * sent, by phone number, or by email address, in whichever CRM org the agent
 * has open. Never throws and never waits past its budget: the offer is
 * already on screen, and the answer (or the reason there is none) only adds
 * to it. Once a contact is known, its account, cases and activities follow.
 */
import { CrmError, type CrmApi } from '../../utils/crm/api';
import { ADAPTERS } from '../../utils/crm';
import type { CrmDetails, CrmOrg, Identification } from '../../utils/crm/types';
import { t } from '../../utils/i18n';
import { normalizePhone } from '../../utils/phone';
import type { Conversation } from '../../protocol/feed';
import { type FeedState, pendingOffers, setIdentification } from './feed-state';
import type { StateKeeper } from './state-keeper';

export const LOOKUP_BUDGET_MS = 4000;
export const DETAILS_BUDGET_MS = 10_000;

export interface IdentifyDeps {
  region: string;
  /** The CRM orgs open in the agent's tabs, the one to ask first first. */
  findOrgs(): Promise<CrmOrg[]>;
  api(org: CrmOrg): CrmApi;
  budgetMs?: number;
}

/** True when there is something to look the customer up by. */
export function needsLookup(c: Conversation): boolean {
  return !!(c.customer.phone || c.customer.email || c.customer.crmId);
}

const messageOf = (error: unknown) => (error instanceof CrmError ? error.message : String(error instanceof Error ? error.message : error));

/** Runs `work` against the budget: past it, the answer is a failure that says so. */
async function withinBudget<T>(work: Promise<T>, budgetMs: number, late: () => T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(late()), budgetMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function identifyCustomer(conversation: Conversation, deps: IdentifyDeps): Promise<Identification> {
  const { phone, email, crmId } = conversation.customer;
  if (!needsLookup(conversation)) return { status: 'channel' };
  const number = phone ? normalizePhone(phone, deps.region) : undefined;
  if (number && !number.ok && !email && !crmId) return { status: 'unreadable', phone: phone!, message: number.reason };
  const said = phone ? { phone } : {};
  const budget = deps.budgetMs ?? LOOKUP_BUDGET_MS;

  const lookup = async (): Promise<Identification> => {
    const orgs = await deps.findOrgs();
    if (orgs.length === 0) return { status: 'unavailable', ...said, message: t('lookup_no_tab') };
    let lastError = '';
    let nobody: Identification | undefined;
    // The first org that knows the customer answers; "nobody" only when none does.
    for (const org of orgs) {
      const adapter = ADAPTERS[org.crm];
      const api = deps.api(org);
      try {
        if (crmId) {
          const contact = await adapter.contact(api, crmId);
          if (contact) return { status: 'matched', ...said, org, contact };
        }
        if (number?.ok) {
          const found = await adapter.findByPhone(api, number.e164, deps.region);
          if (found.contacts.length === 1) return { status: 'matched', ...said, org, contact: found.contacts[0]! };
          if (found.contacts.length > 1) return { status: 'ambiguous', ...said, org, candidates: found.contacts };
          if (!found.complete) return { status: 'too-many', ...said, org, message: t('lookup_too_many', api.label, found.checked) };
        }
        if (email) {
          const found = await adapter.findByEmail(api, email);
          if (found.length === 1) return { status: 'matched', ...said, org, contact: found[0]! };
          if (found.length > 1) return { status: 'ambiguous', ...said, org, candidates: found };
        }
        nobody ??= { status: 'none', ...said, org, message: number?.ok ? t('lookup_none', number.e164) : t('lookup_none_email', email ?? crmId ?? '') };
      } catch (error) {
        lastError = messageOf(error);
      }
    }
    return nobody ?? { status: 'failed', ...said, message: lastError };
  };
  return withinBudget(lookup(), budget, () => ({ status: 'failed', ...said, message: t('lookup_timeout', budget / 1000) }));
}

/** Account, cases and open activities of a matched contact, or why they could not be fetched. */
export async function fetchDetails(org: CrmOrg, contactId: string, deps: Pick<IdentifyDeps, 'api' | 'budgetMs'>): Promise<{ details: CrmDetails } | { detailsError: string }> {
  const budget = deps.budgetMs ?? DETAILS_BUDGET_MS;
  const work = ADAPTERS[org.crm]
    .details(deps.api(org), contactId)
    .then((details) => ({ details }))
    .catch((error: unknown) => ({ detailsError: messageOf(error) }));
  return withinBudget(work, budget, () => ({ detailsError: t('lookup_timeout', budget / 1000) }));
}

/**
 * Starts a CRM lookup for each conversation that has something to look up
 * and no answer yet, and fetches the summary of each contact once known;
 * one at a time per conversation. A lookup cut short by a worker restart
 * (left `pending` in the stored state) starts again.
 */
export class CustomerLookups {
  readonly #running = new Set<string>();

  constructor(
    private readonly keeper: StateKeeper,
    /** The lookup's dependencies as the settings are now (the default region may change). */
    private readonly deps: () => IdentifyDeps,
  ) {}

  start(state: FeedState): void {
    const conversations = [...pendingOffers(state).map((o) => o.conversation), ...Object.values(state.sessions).map((s) => s.conversation)];
    for (const c of conversations) {
      const known = state.identifications[c.id];
      if (this.#running.has(c.id)) continue;
      if (known?.status === 'matched') {
        if (!known.details && !known.detailsError && state.sessions[c.id]) this.#details(c.id, known.org, known.contact.id);
        continue;
      }
      if (!needsLookup(c) || (known && known.status !== 'pending')) continue;
      this.#running.add(c.id);
      void (async () => {
        if (!known) await this.keeper.update((s) => setIdentification(s, c.id, { status: 'pending', ...(c.customer.phone ? { phone: c.customer.phone } : {}), ...(c.customer.email ? { email: c.customer.email } : {}) }));
        const result = await identifyCustomer(c, this.deps());
        // Forgotten meanwhile (the conversation ended and was closed): nothing to add it to.
        await this.keeper.update((s) => (s.identifications[c.id] ? setIdentification(s, c.id, result) : s));
        this.#running.delete(c.id);
      })();
    }
  }

  /** The summary of a contact the agent has a session with (not fetched for offers that may be rejected). */
  #details(conversationId: string, org: CrmOrg, contactId: string): void {
    this.#running.add(conversationId);
    void (async () => {
      const result = await fetchDetails(org, contactId, this.deps());
      await this.keeper.update((s) => {
        const now = s.identifications[conversationId];
        // The agent picked another contact meanwhile: this answer is about the old one.
        if (now?.status !== 'matched' || now.contact.id !== contactId) return s;
        return setIdentification(s, conversationId, { ...now, ...result });
      });
      this.#running.delete(conversationId);
    })();
  }
}
