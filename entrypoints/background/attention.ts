/**
 * What should be drawing the agent's attention right now, as a pure plan:
 * which desktop notifications exist, and which ringtone plays. The worker
 * compares the plan with what is up and changes only the difference, so a
 * resolved offer's notification and sound stop whatever resolved it.
 */
import type { FeedState } from '../../utils/feed-state';
import { pendingOffers } from '../../utils/feed-state';
import type { Scenario } from '../../utils/protocol/feed';
import { templateFor, type TemplateOverrides } from '../../utils/templates';

export interface NotificationPlan {
  id: string;
  offerId: string;
  scenario: Scenario;
  customerName: string;
  comment: string;
  /** Alerts stay until answered and carry Accept / Reject buttons. */
  alert: boolean;
  rejectAllowed: boolean;
}

export interface SoundPlan {
  /** The offer the sound is for (the newest one that rings). */
  offerId: string;
  sound: string;
  volume: number;
  loop: boolean;
}

export interface AttentionPlan {
  notifications: NotificationPlan[];
  sound: SoundPlan | null;
}

export const notificationId = (offerId: string) => `offer:${offerId}`;

export function planAttention(state: FeedState, templates: TemplateOverrides, crmTabInView: boolean, now: number): AttentionPlan {
  const notifications: NotificationPlan[] = [];
  let sound: SoundPlan | null = null;
  for (const offer of pendingOffers(state)) {
    const template = templateFor(offer.conversation.scenario, templates);
    const identified = state.identifications[offer.conversation.id];
    const alert = template.kind === 'alert';
    if (template.desktop === 'always' || (template.desktop === 'when-hidden' && !crmTabInView)) {
      notifications.push({
        id: notificationId(offer.offerId),
        offerId: offer.offerId,
        scenario: offer.conversation.scenario,
        customerName: identified?.status === 'matched' ? identified.contact.name : offer.conversation.customer.name,
        comment: offer.conversation.comment,
        alert,
        rejectAllowed: template.rejectAllowed,
      });
    }
    // A toast rings once, when it arrives; an alert rings until it is answered.
    const fresh = now - offer.receivedAt < 2000;
    if (template.sound && template.volume > 0 && (alert || fresh)) {
      sound = { offerId: offer.offerId, sound: template.soundName, volume: template.volume, loop: alert };
    }
  }
  return { notifications, sound };
}
