/**
 * Links a conversation to the CRM contact whose mobile phone is the
 * customer's number. Never throws and never waits past its budget: the offer
 * is already on screen, and the answer (or the reason there is none) only
 * adds to it.
 */
import { browser } from 'wxt/browser';
import { digitTails, isDynamicsPage, type PageLookup, parseContacts } from '../../utils/crm/dynamics365';
import type { CrmContact, Identification } from '../../utils/crm/types';
import { t } from '../../utils/i18n';
import { normalizePhone } from '../../utils/phone';
import type { Conversation } from '../../protocol/feed';
import { type FeedState, pendingOffers, setIdentification } from './feed-state';
import type { StateKeeper } from './state-keeper';

export const LOOKUP_BUDGET_MS = 4000;

export interface IdentifyDeps {
  region: string;
  /** Tabs with a Dynamics 365 org open, the one to ask first first. */
  findOrgTabs(): Promise<number[]>;
  askTab(tabId: number, tails: string[]): Promise<PageLookup>;
  budgetMs?: number;
}

/** True when the customer has a number to look up and no CRM id from the channel. */
export function needsLookup(c: Conversation): boolean {
  return !!c.customer.phone && !c.customer.crmId;
}

/** Contacts whose mobile phone, normalised, is the number. */
export function matchContacts(contacts: readonly CrmContact[], e164: string, region: string): CrmContact[] {
  return contacts.filter((c) => {
    if (!c.phone) return false;
    const check = normalizePhone(c.phone, region);
    return check.ok && check.e164 === e164;
  });
}

export async function identifyCustomer(conversation: Conversation, deps: IdentifyDeps): Promise<Identification> {
  const phone = conversation.customer.phone;
  if (!phone || !needsLookup(conversation)) return { status: 'channel' };
  const number = normalizePhone(phone, deps.region);
  if (!number.ok) return { status: 'unreadable', phone, message: number.reason };

  const budget = deps.budgetMs ?? LOOKUP_BUDGET_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<Identification>((resolve) => {
    timer = setTimeout(() => resolve({ status: 'failed', phone, message: t('lookup_timeout', budget / 1000) }), budget);
  });
  const lookup = (async (): Promise<Identification> => {
    const tabs = await deps.findOrgTabs();
    if (tabs.length === 0) return { status: 'unavailable', phone, message: t('lookup_no_tab') };
    let lastError = '';
    for (const tabId of tabs) {
      const answer = await deps.askTab(tabId, digitTails(number.e164)).catch((error: unknown) => ({ ok: false as const, error: String(error) }));
      if (!answer.ok) {
        lastError = answer.error;
        continue;
      }
      const parsed = parseContacts(answer.body, answer.origin);
      if (!parsed.ok) return { status: 'failed', phone, message: parsed.error };
      const matches = matchContacts(parsed.contacts, number.e164, deps.region);
      if (matches.length === 1) return { status: 'matched', phone, contact: matches[0]! };
      if (matches.length > 1) return { status: 'ambiguous', phone, candidates: matches };
      return { status: 'none', phone, message: t('lookup_none', number.e164) };
    }
    return { status: 'failed', phone, message: lastError };
  })();
  try {
    return await Promise.race([lookup, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Production: CRM tabs with a Dynamics org, the active one first. */
export async function findDynamicsTabs(): Promise<number[]> {
  const tabs = await browser.tabs.query({});
  return tabs
    .filter((t) => t.id !== undefined && t.url && isDynamicsPage(t.url))
    .sort((a, b) => Number(b.active) - Number(a.active) || (b.lastAccessed ?? 0) - (a.lastAccessed ?? 0))
    .map((t) => t.id!);
}

/**
 * Starts a CRM lookup for each conversation that has a number to look up and
 * no answer yet, once at a time per conversation; a lookup cut short by a
 * worker restart (left `pending` in the stored state) starts again.
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
      if (this.#running.has(c.id) || !needsLookup(c) || (known && known.status !== 'pending')) continue;
      this.#running.add(c.id);
      void (async () => {
        if (!known) await this.keeper.update((s) => setIdentification(s, c.id, { status: 'pending', phone: c.customer.phone! }));
        const result = await identifyCustomer(c, this.deps());
        // Forgotten meanwhile (the conversation ended and was closed): nothing to add it to.
        await this.keeper.update((s) => (s.identifications[c.id] ? setIdentification(s, c.id, result) : s));
        this.#running.delete(c.id);
      })();
    }
  }
}
