/**
 * What the service worker knows about offers and sessions, as plain data and
 * pure functions, so the same transitions run in unit tests and in the worker.
 *
 * Offer lifecycle (each arrow taken at most once, by whoever gets there first:
 * the agent in a tab, a shortcut, the local timer or the feed):
 *
 *              ┌─► accepted   (agent, or the feed's `accepted`)
 *   offered ───┼─► rejected   (agent)
 *              ├─► expired    (local deadline, or the feed says so)
 *              └─► withdrawn  (feed: taken, customer left, rerouted)
 *
 * A resolved offer stays in the state for a short while as a tombstone, so a
 * replayed `offer` frame for it does not bring it back.
 */
import type { Identification } from './crm/types';
import type { Conversation, Message, ServerEvent } from './protocol/feed';

export type OfferStatus = 'offered' | 'accepted' | 'rejected' | 'expired' | 'withdrawn';

export interface OfferEntry {
  offerId: string;
  /** The feed's seq of the offer: the order offers arrived in, also within one batch. */
  seq: number;
  conversation: Conversation;
  /** Local clock: when the offer arrived. */
  receivedAt: number;
  /** Local clock: the feed's expiresAt corrected for skew. */
  deadline: number;
  status: OfferStatus;
  /** Local clock: when the offer left `offered`. */
  resolvedAt?: number;
  /** Accepted by the worker because the template says so; the agent has not opened it yet unless `opened`. */
  autoAccepted?: boolean;
  opened?: boolean;
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
  sessions: Record<string, SessionEntry>;
  /** serverTime − local time, from the last welcome. */
  skewMs: number;
  /** How each conversation's customer was identified (CRM lookup by phone), by conversation id. */
  identifications: Record<string, Identification>;
}

export const EMPTY_STATE: FeedState = { offers: {}, sessions: {}, skewMs: 0, identifications: {} };

/** How long a resolved offer is remembered, to ignore replays of it. */
export const TOMBSTONE_MS = 10 * 60_000;

/** Offers waiting for the agent, oldest first. */
export function pendingOffers(state: FeedState): OfferEntry[] {
  return Object.values(state.offers)
    .filter((o) => o.status === 'offered')
    .sort((a, b) => a.receivedAt - b.receivedAt || a.seq - b.seq);
}

/**
 * Applies one feed event. Returns the same object when nothing changed
 * (replays, duplicates). `maxOfferMs` lets an admin keep an offer up for less
 * time than the feed allows, never more.
 */
export function applyEvent(
  state: FeedState,
  event: ServerEvent,
  now: number,
  maxOfferMs: (conversation: Conversation) => number = () => Infinity,
): FeedState {
  switch (event.type) {
    case 'offer': {
      if (state.offers[event.offerId]) return state;
      // The skew estimate carries the welcome's transit time; an offer can
      // never have more time left on arrival than it was given in all.
      const deadline = Math.min(
        event.expiresAt - state.skewMs,
        now + (event.expiresAt - event.offeredAt),
        now + maxOfferMs(event.conversation),
      );
      const entry: OfferEntry = {
        offerId: event.offerId,
        seq: event.seq,
        conversation: event.conversation,
        receivedAt: now,
        deadline,
        status: deadline <= now ? 'expired' : 'offered',
        ...(deadline <= now ? { resolvedAt: now } : {}),
      };
      return { ...state, offers: { ...state.offers, [event.offerId]: entry } };
    }
    case 'offer-withdrawn': {
      const status: OfferStatus = event.reason === 'expired' ? 'expired' : event.reason === 'rejected' ? 'rejected' : 'withdrawn';
      return resolveOffer(state, event.offerId, status, now);
    }
    case 'accepted': {
      const resolved = resolveOffer(state, event.offerId, 'accepted', now);
      const existing = state.sessions[event.conversation.id];
      if (existing && !existing.endedBy) {
        // Re-sent after a fresh welcome: the server's transcript is complete.
        if (existing.transcript.length >= event.transcript.length) return resolved;
        const { truncated: _whole, ...rest } = existing;
        return { ...resolved, sessions: { ...resolved.sessions, [existing.conversationId]: { ...rest, transcript: event.transcript } } };
      }
      const session: SessionEntry = {
        conversationId: event.conversation.id,
        offerId: event.offerId,
        conversation: event.conversation,
        transcript: event.transcript,
        acceptedAt: now,
      };
      return { ...resolved, sessions: { ...resolved.sessions, [session.conversationId]: session } };
    }
    case 'message': {
      const session = state.sessions[event.message.conversationId];
      if (!session || session.transcript.some((m) => m.id === event.message.id)) return state;
      return {
        ...state,
        sessions: { ...state.sessions, [session.conversationId]: { ...session, transcript: [...session.transcript, event.message] } },
      };
    }
    case 'conversation-ended': {
      const session = state.sessions[event.conversationId];
      let next = state;
      // The customer may leave while the offer is still up.
      for (const offer of Object.values(state.offers)) {
        if (offer.conversation.id === event.conversationId) next = resolveOffer(next, offer.offerId, 'withdrawn', now);
      }
      if (!session || session.endedBy) return next;
      return { ...next, sessions: { ...next.sessions, [session.conversationId]: { ...session, endedBy: event.by } } };
    }
  }
}

/**
 * Moves an offer out of `offered`. Only the first call changes anything; a
 * later one (the feed confirming the agent's reject, a timer firing after an
 * accept) returns the state unchanged.
 */
export function resolveOffer(state: FeedState, offerId: string, status: Exclude<OfferStatus, 'offered'>, now: number): FeedState {
  const offer = state.offers[offerId];
  if (!offer || offer.status !== 'offered') return state;
  return { ...state, offers: { ...state.offers, [offerId]: { ...offer, status, resolvedAt: now } } };
}

/** Expires every offer whose deadline has passed, and forgets old tombstones and what only they used. */
export function expireDue(state: FeedState, now: number): FeedState {
  let next = state;
  for (const offer of Object.values(state.offers)) {
    if (offer.status === 'offered' && offer.deadline <= now) next = resolveOffer(next, offer.offerId, 'expired', now);
    else if (offer.status !== 'offered' && (offer.resolvedAt ?? 0) + TOMBSTONE_MS <= now) {
      const { [offer.offerId]: _gone, ...rest } = next.offers;
      next = { ...next, offers: rest };
    }
  }
  return forgetUnused(next);
}

/** Drops identifications of conversations that are neither offered nor open any more. */
function forgetUnused(state: FeedState): FeedState {
  const used = new Set([...Object.values(state.offers).map((o) => o.conversation.id), ...Object.keys(state.sessions)]);
  const stale = Object.keys(state.identifications).filter((id) => !used.has(id));
  if (stale.length === 0) return state;
  const identifications = { ...state.identifications };
  for (const id of stale) delete identifications[id];
  return { ...state, identifications };
}

export function setIdentification(state: FeedState, conversationId: string, identification: Identification): FeedState {
  return { ...state, identifications: { ...state.identifications, [conversationId]: identification } };
}

/** The agent chose one of several contacts that share the number. */
export function pickContact(state: FeedState, conversationId: string, contactId: string): FeedState {
  const current = state.identifications[conversationId];
  if (current?.status !== 'ambiguous') return state;
  const contact = current.candidates.find((c) => c.id === contactId);
  if (!contact) return state;
  return setIdentification(state, conversationId, { status: 'matched', phone: current.phone, contact, picked: true });
}

/** The earliest deadline of a pending offer, for the next timer. */
export function nextDeadline(state: FeedState): number | undefined {
  const deadlines = pendingOffers(state).map((o) => o.deadline);
  return deadlines.length ? Math.min(...deadlines) : undefined;
}

/** Below this, a change in the skew estimate is transit-time noise, not a clock that was set. */
export const CLOCK_JUMP_MS = 2_000;

/**
 * A new skew estimate (a welcome, a heartbeat). When it moved by more than
 * noise, the local clock (or the server's) was set: every local time in the
 * state moves with it, so each offer keeps the time the feed gave it, and
 * nothing expires early after a clock set forward or stays up after one set back.
 */
export function rebaseClock(state: FeedState, skewMs: number): FeedState {
  const shift = state.skewMs - skewMs;
  if (Math.abs(shift) < CLOCK_JUMP_MS) return state.skewMs === skewMs ? state : { ...state, skewMs };
  const offers = Object.fromEntries(
    Object.entries(state.offers).map(([id, o]) => [
      id,
      { ...o, receivedAt: o.receivedAt + shift, deadline: o.deadline + shift, ...(o.resolvedAt === undefined ? {} : { resolvedAt: o.resolvedAt + shift }) },
    ]),
  );
  const sessions = Object.fromEntries(Object.entries(state.sessions).map(([id, s]) => [id, { ...s, acceptedAt: s.acceptedAt + shift }]));
  return { ...state, offers, sessions, skewMs };
}

/**
 * After a welcome that could not resume, the server re-sends what is live:
 * forget pending offers (they come back, same ids, if still open) and keep
 * sessions, which the server re-sends as `accepted` with the full transcript.
 */
export function resetForFreshSession(state: FeedState, skewMs: number): FeedState {
  const offers = Object.fromEntries(Object.entries(state.offers).filter(([, o]) => o.status !== 'offered'));
  return { ...state, offers, skewMs };
}

/** Forgets an ended session (the agent closed it in the side panel). */
export function closeSession(state: FeedState, conversationId: string): FeedState {
  const session = state.sessions[conversationId];
  if (!session?.endedBy) return state;
  const { [conversationId]: _closed, ...sessions } = state.sessions;
  return forgetUnused({ ...state, sessions });
}

/** Accepts an offer for the agent (auto-accept template): it stays on screen, with Open, until opened. */
export function autoAccept(state: FeedState, offerId: string, now: number): FeedState {
  const next = resolveOffer(state, offerId, 'accepted', now);
  if (next === state) return state;
  return { ...next, offers: { ...next.offers, [offerId]: { ...next.offers[offerId]!, autoAccepted: true } } };
}

export function markOpened(state: FeedState, offerId: string): FeedState {
  const offer = state.offers[offerId];
  if (!offer?.autoAccepted || offer.opened) return state;
  return { ...state, offers: { ...state.offers, [offerId]: { ...offer, opened: true } } };
}

/** Auto-accepted offers the agent has not opened yet, oldest first. */
export function unopenedOffers(state: FeedState): OfferEntry[] {
  return Object.values(state.offers)
    .filter((o) => o.autoAccepted && !o.opened)
    .sort((a, b) => a.receivedAt - b.receivedAt || a.seq - b.seq);
}

/**
 * A smaller copy for storage when the full state does not fit in
 * `storage.session` (10 MB): each session keeps its latest messages only,
 * marked `truncated`. Offers and tombstones stay whole, since they are what keeps a replayed
 * event from showing twice; the worker's memory keeps every message.
 */
export function compactForStorage(state: FeedState, keepMessages = 200): FeedState {
  const sessions: Record<string, SessionEntry> = {};
  for (const [id, session] of Object.entries(state.sessions)) {
    sessions[id] =
      session.transcript.length > keepMessages ? { ...session, transcript: session.transcript.slice(-keepMessages), truncated: true } : session;
  }
  return { ...state, sessions };
}

/** True when a stored session lacks its older messages, which only a fresh (not resumed) welcome sends again. */
export function hasTruncatedSessions(state: FeedState): boolean {
  return Object.values(state.sessions).some((s) => s.truncated && !s.endedBy);
}
