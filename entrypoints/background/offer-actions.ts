/**
 * What the agent (or a template) does with offers and toasts, whoever asks:
 * an overlay button, a desktop notification button, a keyboard shortcut or
 * an auto-accept template. Each moves an offer out of `offered`, or a toast
 * off screen, at most once (resolveOffer and closeNotice ignore the rest).
 * Every answer reads the presentation decided when the offer arrived.
 */
import { browser } from 'wxt/browser';
import { autoAccept, closeNotice, focusSession, markTimeoutSent, pendingOffers, resolveOffer, untoldTimeouts } from './feed-state';
import { t } from '../../utils/i18n';
import type { CommandResult } from '../../utils/messages';
import type { FeedCommand } from './feed-client';
import type { StateKeeper } from './state-keeper';

export type PanelTarget = { tabId: number } | { windowId: number } | undefined;

/** The part of the feed connection the actions use; tests pass a fake. */
export interface FeedSender {
  send(command: FeedCommand): boolean;
}

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
    private readonly feed: FeedSender,
  ) {}

  async accept(offerId: string): Promise<CommandResult> {
    await this.keeper.ready;
    if (this.keeper.state.offers[offerId]?.status !== 'offered') return { ok: false, error: t('error_gone') };
    if (!this.feed.send({ type: 'accept', offerId })) return { ok: false, error: t('error_not_connected') };
    // The feed's `accepted` event opens the session; until then the offer is settled here.
    await this.keeper.update((s, now) => resolveOffer(s, offerId, 'accepted', now));
    return { ok: true };
  }

  /**
   * Rejects with one of the template's reasons, or none when it has none. A
   * reject that needs a reason and brings none (a shortcut, a desktop
   * notification) is refused with `needsReason`: the caller lets the agent
   * pick one on the card.
   */
  async reject(offerId: string, reason?: string): Promise<CommandResult & { needsReason?: true }> {
    await this.keeper.ready;
    const offer = this.keeper.state.offers[offerId];
    if (offer?.status !== 'offered') return { ok: false, error: t('error_gone') };
    const template = offer.presentation.template;
    if (!template.rejectAllowed) return { ok: false, error: t('error_reject_not_allowed') };
    if (template.rejectReasons.length > 0) {
      if (reason === undefined) return { ok: false, error: t('error_reason_needed'), needsReason: true };
      if (!template.rejectReasons.includes(reason)) return { ok: false, error: t('error_reason_unknown') };
    }
    if (!this.feed.send({ type: 'reject', offerId, ...(reason ? { reason } : {}) })) return { ok: false, error: t('error_not_connected') };
    await this.keeper.update((s, now) => resolveOffer(s, offerId, 'rejected', now));
    return { ok: true };
  }

  /** The agent selected a toast or Open: the session shows in the side panel (opened by the caller), the toast leaves every tab. */
  async open(conversationId: string): Promise<CommandResult> {
    await this.keeper.ready;
    const state = this.keeper.state;
    if (!state.notices[conversationId] && !state.sessions[conversationId]) return { ok: false, error: t('error_gone') };
    await this.keeper.update((s, now) => focusSession(s, conversationId, now));
    return { ok: true };
  }

  /** The agent closed a toast: it leaves every tab. */
  async dismiss(conversationId: string): Promise<CommandResult> {
    await this.keeper.ready;
    if (!this.keeper.state.notices[conversationId]) return { ok: false, error: t('error_gone') };
    await this.keeper.update((s, now) => closeNotice(s, conversationId, 'dismissed', now));
    return { ok: true };
  }

  /** The newest offer still waiting for an answer, for keyboard shortcuts. Toasts are not offers. */
  newest(): string | undefined {
    return pendingOffers(this.keeper.state).at(-1)?.offerId;
  }

  /** Accepts, without a click, each new offer whose template says so. */
  autoAcceptNew(): void {
    for (const offer of pendingOffers(this.keeper.state)) {
      if (!offer.presentation.template.autoAccept) continue;
      if (!this.feed.send({ type: 'accept', offerId: offer.offerId })) return;
      void this.keeper.update((s, now) => autoAccept(s, offer.offerId, now));
    }
  }

  /**
   * Tells the feed of each offer whose time ran out here first (the template
   * allows less than the feed), so the conversation moves on at once instead
   * of waiting out the feed's deadline. Untold ones go at the next welcome.
   */
  tellTimeouts(): void {
    for (const offer of untoldTimeouts(this.keeper.state)) {
      if (!this.feed.send({ type: 'timeout', offerId: offer.offerId })) return;
      void this.keeper.update((s) => markTimeoutSent(s, offer.offerId));
    }
  }
}
