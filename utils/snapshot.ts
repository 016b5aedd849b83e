/** What the worker pushes to overlays and pages: the view of the state, nothing secret. */
import type { CrmId, Identification } from './crm/types';
import type { SignInView } from './oidc';
import type { ConnectionState } from './connection';
import type { SessionEntry } from './state';
import type { Conversation } from '../protocol/feed';
import type { ThemeSetting } from './storage-items';
import type { Template } from './templates';
import type { CardKind } from './presentation';
import type { Routing } from '../protocol/feed';

/**
 * One card in the overlay, as the worker decided it should show
 * (utils/presentation.ts): an alert for an offer, a toast for work that is
 * already the agent's.
 */
export interface CardView {
  /** The offer's id for an alert; the conversation's id for a toast. */
  id: string;
  kind: CardKind;
  /** Alerts only: what Accept and Reject answer. */
  offerId?: string;
  conversation: Conversation;
  /** Local clock: when it arrived. */
  receivedAt: number;
  /** Local clock: when it leaves the screen (an alert's deadline). */
  showUntil: number;
  template: Template;
  identification?: Identification;
}

export interface StateSnapshot {
  theme: ThemeSetting;
  /** The catalogue of the language the admin chose; absent: the browser's language. */
  strings?: Record<string, string>;
  /** Alerts and toasts, oldest first. */
  cards: CardView[];
  /** The feed's clock minus the local one: a wait time is `now + skewMs − waitingSince`. */
  skewMs: number;
}

/** For extension pages only: whole sessions with their transcripts, and the feed connection. */
export interface PageSnapshot extends StateSnapshot {
  sessionDetails: SessionEntry[];
  identifications: Record<string, Identification>;
  /** How far each ended conversation got on its way to the contact's CRM timeline (no transcripts). */
  writeBacks: Record<string, WriteBackView>;
  connection: ConnectionState | null;
  /** The agent's sign-in with the organisation's provider; null when the feed takes a static token. */
  signIn?: SignInView | null;
  /** CRM sites in the settings that lack their host permission. */
  sitesMissingPermission: string[];
  /** Offers waiting for an answer (the popup's count): alerts, not toasts. */
  pendingOffers: number;
  /** How the feed routes each scenario, and the agent's capacity, from its last welcome. */
  routing?: Routing;
  capacity?: number;
  /** The session the agent last asked to see. */
  focus?: { conversationId: string; at: number };
}

export interface WriteBackView {
  crm: CrmId;
  status: 'pending' | 'done' | 'failed';
  attempts: number;
  nextAt: number;
  error?: string;
}
