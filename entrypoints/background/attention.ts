/**
 * What should be drawing the agent's attention right now, as a pure plan:
 * which desktop notifications exist, and which ringtone plays. The worker
 * compares the plan with what is up and changes only the difference, so a
 * resolved offer's notification and sound stop whatever resolved it. Each
 * card's sound and notification policy were decided when it arrived
 * (utils/presentation.ts); this only reads them.
 */
import { cardsOnScreen, type FeedState } from './feed-state';
import type { Scenario } from '../../protocol/feed';

export interface NotificationPlan {
  id: string;
  /** The offer (alerts) or the conversation (toasts) it is about. */
  offerId?: string;
  conversationId: string;
  scenario: Scenario;
  customerName: string;
  comment: string;
  /** Alerts stay until answered and carry Accept (and Reject, when it needs no reason). */
  alert: boolean;
  rejectAllowed: boolean;
}

export interface SoundPlan {
  /** The card the sound is for (the newest one that rings). */
  offerId: string;
  sound: string;
  volume: number;
  loop: boolean;
}

export interface AttentionPlan {
  notifications: NotificationPlan[];
  sound: SoundPlan | null;
}

export const notificationId = (cardId: string) => `offer:${cardId}`;

export function planAttention(state: FeedState, crmTabInView: boolean, now: number): AttentionPlan {
  const notifications: NotificationPlan[] = [];
  let sound: SoundPlan | null = null;
  for (const card of cardsOnScreen(state)) {
    const { presentation: p, conversation } = card;
    // A toast's notification is named apart from the offers' (`n:` + the conversation).
    const cardId = card.kind === 'toast' ? `n:${card.id}` : card.id;
    const identified = state.identifications[conversation.id];
    const alert = p.kind === 'alert';
    if (p.desktop === 'always' || (p.desktop === 'when-hidden' && !crmTabInView)) {
      notifications.push({
        id: notificationId(cardId),
        ...(card.offerId ? { offerId: card.offerId } : {}),
        conversationId: conversation.id,
        scenario: conversation.scenario,
        customerName: identified?.status === 'matched' ? identified.contact.name : conversation.customer.name,
        comment: conversation.comment,
        alert,
        // A reject that needs a reason is made on the card, where the reasons are.
        rejectAllowed: alert && p.template.rejectAllowed && p.template.rejectReasons.length === 0,
      });
    }
    // A toast rings once, when it arrives; an alert rings until it is answered.
    const fresh = now - card.receivedAt < 2000;
    if (p.sound && (p.sound.loop || fresh)) sound = { offerId: cardId, sound: p.sound.name, volume: p.sound.volume, loop: p.sound.loop };
  }
  return { notifications, sound };
}
