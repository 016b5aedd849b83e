/** What the worker pushes to overlays and pages: the view of the state, nothing secret. */
import type { Conversation } from './protocol/feed';
import type { ThemeSetting } from './storage-items';
import type { Template } from './templates';

export interface OfferView {
  offerId: string;
  conversation: Conversation;
  /** Local clock: when the offer closes. */
  deadline: number;
  /** Local clock: when it arrived; toasts show for template.timeoutSec from here. */
  receivedAt: number;
  template: Template;
}

export interface SessionView {
  conversationId: string;
  customerName: string;
  ended: boolean;
  messages: number;
}

export interface StateSnapshot {
  theme: ThemeSetting;
  offers: OfferView[];
  sessions: SessionView[];
}
