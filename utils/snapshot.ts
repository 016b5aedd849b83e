/** What the worker pushes to overlays and pages: the view of the state, nothing secret. */
import type { Conversation } from './protocol/feed';

export interface OfferView {
  offerId: string;
  conversation: Conversation;
  /** Local clock. */
  deadline: number;
  receivedAt: number;
}

export interface SessionView {
  conversationId: string;
  customerName: string;
  ended: boolean;
  messages: number;
}

export interface StateSnapshot {
  offers: OfferView[];
  sessions: SessionView[];
}
