/**
 * What the worker knows about offers, toasts and sessions, as data: the
 * worker changes it (entrypoints/background/feed-state.ts), views read it.
 */
import type { CrmOrg, Identification } from './crm/types';
import type { ConversationRecord } from './crm/api';
import type { Presentation } from './presentation';
import type { Conversation, Message, Routing } from '../protocol/feed';

export type OfferStatus = 'offered' | 'accepted' | 'rejected' | 'expired' | 'withdrawn';

export interface OfferEntry {
  offerId: string;
  /** The feed's seq of the offer: the order offers arrived in, also within one batch. */
  seq: number;
  conversation: Conversation;
  /** Local clock: when the offer arrived. */
  receivedAt: number;
  /** Local clock: the earlier of the feed's expiresAt (corrected for skew) and the template's time. */
  deadline: number;
  /** How it shows, decided once on arrival. */
  presentation: Presentation;
  status: OfferStatus;
  /** Local clock: when the offer left `offered`. */
  resolvedAt?: number;
  /** Accepted by the worker because the template says so (a notice shows it, with Open). */
  autoAccepted?: boolean;
  /** Expired by the local deadline, before the feed said anything: the feed must be told. */
  timedOutHere?: true;
  /** The feed was told of `timedOutHere`. */
  timeoutSent?: true;
}

export type NoticeClosed = 'dismissed' | 'opened' | 'expired' | 'ended';

/** A toast about work that is already the agent's: an assigned conversation, or one auto-accepted for them. */
export interface NoticeEntry {
  conversationId: string;
  /** The feed's seq of the event that brought it (0 for auto-accept): orders cards. */
  seq: number;
  conversation: Conversation;
  receivedAt: number;
  presentation: Presentation;
  /** Set once it is off screen everywhere, and why. */
  closed?: NoticeClosed;
  closedAt?: number;
}

export interface SessionEntry {
  conversationId: string;
  offerId: string;
  conversation: Conversation;
  transcript: Message[];
  acceptedAt: number;
  /** Set when the conversation is over, by whom. */
  endedBy?: 'customer' | 'agent' | 'system';
  /** Only the latest messages were stored (storage.session was full): a restarted worker gets the rest from the feed. */
  truncated?: true;
}

export interface FeedState {
  offers: Record<string, OfferEntry>;
  /** Toasts, by conversation id. */
  notices: Record<string, NoticeEntry>;
  sessions: Record<string, SessionEntry>;
  /** serverTime − local time, from the last welcome. */
  skewMs: number;
  /** How each conversation's customer was identified (CRM lookup by phone), by conversation id. */
  identifications: Record<string, Identification>;
  /** How the feed routes each scenario, and the agent's capacity, from the last welcome. */
  routing?: Routing;
  capacity?: number;
  /** The session the agent last asked to see (a toast or Open): the side panel shows it. */
  focus?: { conversationId: string; at: number };
  /** Ended conversations being written to their contact's CRM timeline, by conversation id. */
  writeBacks?: Record<string, WriteBack>;
}

/** One ended conversation on its way to the contact's CRM timeline. */
export interface WriteBack {
  org: CrmOrg;
  contactId: string;
  record: ConversationRecord;
  /** Attempts started (counted before each, so one cut short by a restart is known to be in doubt). */
  attempts: number;
  nextAt: number;
  status: 'pending' | 'done' | 'failed';
  /** Why the last attempt failed. */
  error?: string;
}

export const EMPTY_STATE: FeedState = { offers: {}, notices: {}, sessions: {}, skewMs: 0, identifications: {} };
