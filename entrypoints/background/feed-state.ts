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
 * A conversation the feed assigns (an `assigned` event) is the agent's at
 * once: it opens a session, and a notice (the toast) that lasts until the
 * agent dismisses or opens it, or its time is up, in every tab at once.
 *
 * A resolved offer or closed notice stays in the state for a short while as a
 * tombstone, so a replayed frame for it does not bring it back.
 */
import { defaultPresenter, type Presentation, type Presenter } from '../../utils/presentation';
import type { Conversation, Message, ServerEvent } from '../../protocol/feed';
import type { Identification } from '../../utils/crm/types';
import { EMPTY_STATE, type FeedState, type NoticeClosed, type NoticeEntry, type OfferEntry, type OfferStatus, type SessionEntry } from '../../utils/state';

export { EMPTY_STATE };
export type { FeedState, NoticeClosed, NoticeEntry, OfferEntry, OfferStatus, SessionEntry };

/** How long a resolved offer is remembered, to ignore replays of it. */
export const TOMBSTONE_MS = 10 * 60_000;

/** Offers waiting for the agent, oldest first. */
export function pendingOffers(state: FeedState): OfferEntry[] {
  return Object.values(state.offers)
    .filter((o) => o.status === 'offered')
    .sort((a, b) => a.receivedAt - b.receivedAt || a.seq - b.seq);
}

/**
 * A state stored by an earlier version (storage.session outlives an
 * extension update): fields it lacks get their defaults, and an offer stored
 * before presentations were decided on arrival gets the default one.
 */
export function upgradeState(stored: Partial<FeedState>): FeedState {
  const state = { ...EMPTY_STATE, ...stored };
  const offers = Object.fromEntries(
    Object.entries(state.offers).map(([id, o]) => [
      id,
      o.presentation ? o : { ...o, presentation: { ...defaultPresenter(o.conversation.scenario, 'alert', o.receivedAt), showUntil: o.deadline } },
    ]),
  );
  return { ...state, offers };
}

/** Toasts on screen now, oldest first. */
export function openNotices(state: FeedState): NoticeEntry[] {
  return Object.values(state.notices)
    .filter((n) => !n.closed)
    .sort((a, b) => a.receivedAt - b.receivedAt || a.seq - b.seq);
}

/** A card on screen: an offer waiting for an answer (alert), or a toast about work that is the agent's. */
export interface Card {
  /** The offer's id for an alert, the conversation's for a toast. */
  id: string;
  kind: Presentation['kind'];
  /** Alerts only. */
  offerId?: string;
  conversation: Conversation;
  receivedAt: number;
  /** Local clock: when it leaves the screen (an alert's deadline). */
  showUntil: number;
  presentation: Presentation;
}

/** Every card on screen, oldest first: what the overlay shows and what desktop notifications and the ringtone follow. */
export function cardsOnScreen(state: FeedState): Card[] {
  const toasts = openNotices(state).map((n) => ({
    id: n.conversationId,
    kind: 'toast' as const,
    conversation: n.conversation,
    receivedAt: n.receivedAt,
    showUntil: n.presentation.showUntil,
    presentation: n.presentation,
  }));
  const alerts = pendingOffers(state).map((o) => ({
    id: o.offerId,
    kind: 'alert' as const,
    offerId: o.offerId,
    conversation: o.conversation,
    receivedAt: o.receivedAt,
    showUntil: o.deadline,
    presentation: o.presentation,
  }));
  return [...toasts, ...alerts].sort((a, b) => a.receivedAt - b.receivedAt);
}

/**
 * Applies one feed event. Returns the same object when nothing changed
 * (replays, duplicates). `present` decides, once, how a new offer or
 * assignment shows; an admin's template can keep an offer up for less time
 * than the feed allows, never more.
 */
export function applyEvent(state: FeedState, event: ServerEvent, now: number, present: Presenter = defaultPresenter): FeedState {
  switch (event.type) {
    case 'offer': {
      if (state.offers[event.offerId]) return state;
      const presentation = present(event.conversation.scenario, 'alert', now);
      // The skew estimate carries the welcome's transit time; an offer can
      // never have more time left on arrival than it was given in all.
      const deadline = Math.min(event.expiresAt - state.skewMs, now + (event.expiresAt - event.offeredAt), presentation.showUntil);
      const entry: OfferEntry = {
        offerId: event.offerId,
        seq: event.seq,
        conversation: event.conversation,
        receivedAt: now,
        deadline,
        presentation: { ...presentation, showUntil: deadline },
        status: deadline <= now ? 'expired' : 'offered',
        ...(deadline <= now ? { resolvedAt: now } : {}),
      };
      return { ...state, offers: { ...state.offers, [event.offerId]: entry } };
    }
    case 'assigned': {
      // The conversation is the agent's: a session, and a toast saying so (once, even when replayed).
      const withSession = openSession(state, event.conversation, `assigned:${event.conversation.id}`, event.transcript, now);
      if (state.notices[event.conversation.id]) return withSession;
      const notice: NoticeEntry = {
        conversationId: event.conversation.id,
        seq: event.seq,
        conversation: event.conversation,
        receivedAt: now,
        presentation: present(event.conversation.scenario, 'toast', now),
      };
      return { ...withSession, notices: { ...withSession.notices, [notice.conversationId]: notice } };
    }
    case 'offer-withdrawn': {
      const status: OfferStatus = event.reason === 'expired' ? 'expired' : event.reason === 'rejected' ? 'rejected' : 'withdrawn';
      return resolveOffer(state, event.offerId, status, now);
    }
    case 'accepted':
      return openSession(resolveOffer(state, event.offerId, 'accepted', now), event.conversation, event.offerId, event.transcript, now);
    case 'message': {
      const session = state.sessions[event.message.conversationId];
      if (!session || session.transcript.some((m) => m.id === event.message.id)) return state;
      return {
        ...state,
        sessions: { ...state.sessions, [session.conversationId]: { ...session, transcript: [...session.transcript, event.message] } },
      };
    }
    case 'message-status': {
      // A reply's delivery moved on: only that message changes (the side panel keeps the others as they are).
      const session = state.sessions[event.conversationId];
      const index = session?.transcript.findIndex((m) => m.id === event.messageId) ?? -1;
      if (!session || index < 0) return state;
      const transcript = session.transcript.slice();
      transcript[index] = { ...transcript[index]!, delivery: event.delivery };
      return { ...state, sessions: { ...state.sessions, [session.conversationId]: { ...session, transcript } } };
    }
    case 'conversation-ended': {
      const session = state.sessions[event.conversationId];
      let next = state;
      // The customer may leave while the offer or the toast is still up.
      for (const offer of Object.values(state.offers)) {
        if (offer.conversation.id === event.conversationId) next = resolveOffer(next, offer.offerId, 'withdrawn', now);
      }
      next = closeNotice(next, event.conversationId, 'ended', now);
      if (!session || session.endedBy) return next;
      return { ...next, sessions: { ...next.sessions, [session.conversationId]: { ...session, endedBy: event.by } } };
    }
  }
}

/** The session of a conversation that is now the agent's; a re-sent one only fills in a longer transcript. */
function openSession(state: FeedState, conversation: Conversation, offerId: string, transcript: Message[], now: number): FeedState {
  const existing = state.sessions[conversation.id];
  if (existing && !existing.endedBy) {
    // Re-sent after a fresh welcome: the server's transcript is complete.
    if (existing.transcript.length >= transcript.length) return state;
    const { truncated: _whole, ...rest } = existing;
    return { ...state, sessions: { ...state.sessions, [existing.conversationId]: { ...rest, transcript } } };
  }
  const session: SessionEntry = { conversationId: conversation.id, offerId, conversation, transcript, acceptedAt: now };
  return { ...state, sessions: { ...state.sessions, [session.conversationId]: session } };
}

/** Takes a toast off every screen; only the first close counts. */
export function closeNotice(state: FeedState, conversationId: string, why: NoticeClosed, now: number): FeedState {
  const notice = state.notices[conversationId];
  if (!notice || notice.closed) return state;
  return { ...state, notices: { ...state.notices, [conversationId]: { ...notice, closed: why, closedAt: now } } };
}

/** The agent asked to see this session (a toast, or Open): the side panel shows it. */
export function focusSession(state: FeedState, conversationId: string, now: number): FeedState {
  return closeNotice({ ...state, focus: { conversationId, at: now } }, conversationId, 'opened', now);
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

/**
 * Expires every offer whose deadline has passed (marked to be told to the
 * feed) and every toast whose time is up, and forgets old tombstones and what
 * only they used.
 */
export function expireDue(state: FeedState, now: number): FeedState {
  let next = state;
  for (const offer of Object.values(state.offers)) {
    if (offer.status === 'offered' && offer.deadline <= now) {
      next = resolveOffer(next, offer.offerId, 'expired', now);
      next = { ...next, offers: { ...next.offers, [offer.offerId]: { ...next.offers[offer.offerId]!, timedOutHere: true } } };
    } else if (offer.status !== 'offered' && (offer.resolvedAt ?? 0) + TOMBSTONE_MS <= now) {
      const { [offer.offerId]: _gone, ...rest } = next.offers;
      next = { ...next, offers: rest };
    }
  }
  for (const notice of Object.values(state.notices)) {
    if (!notice.closed && notice.presentation.showUntil <= now) next = closeNotice(next, notice.conversationId, 'expired', now);
    else if (notice.closed && (notice.closedAt ?? 0) + TOMBSTONE_MS <= now) {
      const { [notice.conversationId]: _gone, ...rest } = next.notices;
      next = { ...next, notices: rest };
    }
  }
  return forgetUnused(next);
}

/** Offers that timed out here and whose timeout the feed has not been told of yet. */
export function untoldTimeouts(state: FeedState): OfferEntry[] {
  return Object.values(state.offers).filter((o) => o.timedOutHere && !o.timeoutSent);
}

export function markTimeoutSent(state: FeedState, offerId: string): FeedState {
  const offer = state.offers[offerId];
  if (!offer?.timedOutHere || offer.timeoutSent) return state;
  return { ...state, offers: { ...state.offers, [offerId]: { ...offer, timeoutSent: true } } };
}

/** Drops identifications of conversations that are neither offered, noticed nor open any more. */
function forgetUnused(state: FeedState): FeedState {
  const used = new Set([
    ...Object.values(state.offers).map((o) => o.conversation.id),
    ...Object.keys(state.notices),
    ...Object.keys(state.sessions),
  ]);
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
  return setIdentification(state, conversationId, { status: 'matched', ...(current.phone ? { phone: current.phone } : {}), org: current.org, contact: { ...contact, matchedBy: 'picked' }, picked: true });
}

/** The earliest deadline of a pending offer or an open toast, for the next timer. */
export function nextDeadline(state: FeedState): number | undefined {
  const deadlines = [...pendingOffers(state).map((o) => o.deadline), ...openNotices(state).map((n) => n.presentation.showUntil)];
  return deadlines.length ? Math.min(...deadlines) : undefined;
}

/** Below this, a change in the skew estimate is transit-time noise, not a clock that was set. */
export const CLOCK_JUMP_MS = 2_000;

/**
 * A new skew estimate (a welcome, a heartbeat). When it moved by `noiseMs` or
 * more (what the estimates' own errors cannot explain), the local clock (or
 * the server's) was set: every local time in the state moves with it, so each
 * offer keeps the time the feed gave it, and nothing expires early after a
 * clock set forward or stays up after one set back. Below that, only the
 * estimate changes.
 */
export function rebaseClock(state: FeedState, skewMs: number, noiseMs = CLOCK_JUMP_MS): FeedState {
  const shift = state.skewMs - skewMs;
  if (Math.abs(shift) < noiseMs) return state.skewMs === skewMs ? state : { ...state, skewMs };
  const moved = (p: Presentation) => ({ ...p, showUntil: p.showUntil + shift });
  const offers = Object.fromEntries(
    Object.entries(state.offers).map(([id, o]) => [
      id,
      {
        ...o,
        receivedAt: o.receivedAt + shift,
        deadline: o.deadline + shift,
        presentation: moved(o.presentation),
        ...(o.resolvedAt === undefined ? {} : { resolvedAt: o.resolvedAt + shift }),
      },
    ]),
  );
  const notices = Object.fromEntries(
    Object.entries(state.notices).map(([id, n]) => [
      id,
      { ...n, receivedAt: n.receivedAt + shift, presentation: moved(n.presentation), ...(n.closedAt === undefined ? {} : { closedAt: n.closedAt + shift }) },
    ]),
  );
  const sessions = Object.fromEntries(Object.entries(state.sessions).map(([id, s]) => [id, { ...s, acceptedAt: s.acceptedAt + shift }]));
  return { ...state, offers, notices, sessions, skewMs };
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

/**
 * Accepts an offer for the agent (auto-accept template). The alert gives way
 * to a toast (the conversation is theirs now) that opens it when selected.
 */
export function autoAccept(state: FeedState, offerId: string, now: number): FeedState {
  const next = resolveOffer(state, offerId, 'accepted', now);
  if (next === state) return state;
  const offer = next.offers[offerId]!;
  const template = offer.presentation.template;
  const notice: NoticeEntry = {
    conversationId: offer.conversation.id,
    seq: offer.seq,
    conversation: offer.conversation,
    receivedAt: now,
    presentation: { ...offer.presentation, kind: 'toast', showUntil: now + template.timeoutSec * 1000, sound: null },
  };
  return {
    ...next,
    offers: { ...next.offers, [offerId]: { ...offer, autoAccepted: true } },
    notices: { ...next.notices, [notice.conversationId]: notice },
  };
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
