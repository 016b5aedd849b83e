/**
 * Accept, reject and open, whoever asks: an overlay button, a desktop
 * notification button, a keyboard shortcut or an auto-accept template. Each
 * moves the offer out of `offered` at most once (resolveOffer ignores the rest).
 */
import { browser } from 'wxt/browser';
import { autoAccept, markOpened, pendingOffers, resolveOffer } from '../../utils/feed-state';
import type { CommandResult } from '../../utils/messages';
import { templateFor, type TemplateOverrides } from '../../utils/templates';
import type { FeedConnection } from './feed-connection';
import type { StateKeeper } from './state-keeper';

const NOT_CONNECTED = 'Not connected to the conversation feed.';
const GONE = 'This conversation is no longer offered to you.';

export type PanelTarget = { tabId: number } | { windowId: number } | undefined;

/**
 * Opens the side panel. Must be called before any await in the handler of a
 * user action, or Chrome refuses it for want of a user gesture.
 */
export function openSidePanel(target: PanelTarget): void {
  if (!target) return;
  browser.sidePanel.open(target as { tabId: number }).catch((error: unknown) => console.warn('[deskbell] could not open the side panel:', error));
}

export class OfferActions {
  constructor(
    private readonly keeper: StateKeeper,
    private readonly feed: FeedConnection,
    private readonly templates: () => TemplateOverrides,
  ) {}

  async accept(offerId: string): Promise<CommandResult> {
    await this.keeper.ready;
    if (this.keeper.state.offers[offerId]?.status !== 'offered') return { ok: false, error: GONE };
    if (!this.feed.send({ type: 'accept', offerId })) return { ok: false, error: NOT_CONNECTED };
    // The feed's `accepted` event opens the session; until then the offer is settled here.
    await this.keeper.update((s, now) => resolveOffer(s, offerId, 'accepted', now));
    return { ok: true };
  }

  async reject(offerId: string, reason?: string): Promise<CommandResult> {
    await this.keeper.ready;
    const offer = this.keeper.state.offers[offerId];
    if (offer?.status !== 'offered') return { ok: false, error: GONE };
    const template = templateFor(offer.conversation.scenario, this.templates());
    if (!template.rejectAllowed) return { ok: false, error: 'Rejecting is not allowed for this kind of conversation.' };
    if (reason !== undefined && template.rejectReasons.length > 0 && !template.rejectReasons.includes(reason)) {
      return { ok: false, error: 'That is not one of the reject reasons.' };
    }
    if (!this.feed.send({ type: 'reject', offerId, ...(reason ? { reason } : {}) })) return { ok: false, error: NOT_CONNECTED };
    await this.keeper.update((s, now) => resolveOffer(s, offerId, 'rejected', now));
    return { ok: true };
  }

  /** The agent opened an auto-accepted conversation (the panel was opened by the caller). */
  async open(offerId: string): Promise<CommandResult> {
    await this.keeper.ready;
    if (!this.keeper.state.offers[offerId]?.autoAccepted) return { ok: false, error: GONE };
    await this.keeper.update((s) => markOpened(s, offerId));
    return { ok: true };
  }

  /** The newest offer still waiting for an answer, for keyboard shortcuts. */
  newest(): string | undefined {
    return pendingOffers(this.keeper.state).at(-1)?.offerId;
  }

  /** Accepts, without a click, each new offer whose template says so. */
  autoAcceptNew(): void {
    for (const offer of pendingOffers(this.keeper.state)) {
      if (!templateFor(offer.conversation.scenario, this.templates()).autoAccept) continue;
      if (!this.feed.send({ type: 'accept', offerId: offer.offerId })) return;
      void this.keeper.update((s, now) => autoAccept(s, offer.offerId, now));
    }
  }
}
