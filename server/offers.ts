/**
 * Offer lifecycle on the server, and assignment:
 *
 *   waiting ──offer──► offered ──accept──► active ──end──► ended
 *      │ ▲                │
 *      │ └─timeout/reject─┘   (also: the browser's timeout, the agent gone,
 *      │                        its client never acknowledging, the customer leaving)
 *      └──assign──────────────► active          (nothing takes it back)
 *
 * Each close happens once (the store closes only an open offer), whichever
 * of the timer, the agent, the browser or the customer gets there first.
 */
import { randomUUID } from 'node:crypto';
import type { Scenario, ScenarioRouting, ServerEventBody, WithdrawReason } from '../protocol/feed.ts';
import type { AgentLinks } from './agent-links.ts';
import type { ConversationUpdate } from './conversations.ts';
import { FeedError } from './errors.ts';
import { type AgentRecord, type ConversationRecord, type OfferRecord, publicConversation } from './store.ts';
import type { Work } from './work.ts';

export class Offers {
  readonly #timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly work: Work,
    private readonly routing: Record<Scenario, ScenarioRouting>,
    private readonly links: AgentLinks,
    private readonly ackTimeoutMs: number,
    private readonly tell: (conversationId: string, update: ConversationUpdate) => void,
  ) {}

  /** Arms the timers of offers still open in the store (after a restart). */
  restore(): void {
    for (const offer of this.work.store.openOffers()) this.#arm(offer);
  }

  stop(): void {
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }

  offer(conversation: ConversationRecord, agent: AgentRecord): void {
    const { store, events } = this.work;
    const now = this.work.now();
    const offer: OfferRecord = {
      id: randomUUID(),
      conversationId: conversation.id,
      agentId: agent.id,
      offeredAt: now,
      expiresAt: now + this.routing[conversation.scenario].offerTimeoutSec * 1000,
      state: 'open',
    };
    const event = this.work.tx(() => {
      store.insertOffer(offer);
      store.setConversationStatus(conversation.id, 'offered', null);
      store.touchAgent(agent.id, now);
      return events.emit(agent.id, this.body(offer));
    }, true); // dispatch counts the offer in its loads
    this.#arm(offer);
    this.#expectAck(offer, event.seq);
    this.work.log.info('offered', { conversation: conversation.id, agent: agent.id, offer: offer.id });
  }

  /**
   * Gives the conversation to the agent outright: it is active and theirs when
   * the event goes out, and nothing (no timeout, no reroute) takes it back.
   */
  assign(conversation: ConversationRecord, agent: AgentRecord): void {
    const { store, events } = this.work;
    this.work.tx(() => {
      store.setConversationStatus(conversation.id, 'active', agent.id);
      store.touchAgent(agent.id, this.work.now());
      events.emit(agent.id, {
        type: 'assigned',
        conversation: publicConversation({ ...conversation, status: 'active', agentId: agent.id }),
        transcript: store.transcript(conversation.id),
      });
    }, true); // dispatch counts it in its loads
    this.tell(conversation.id, { type: 'joined', agentName: agent.name });
    this.work.log.info('assigned', { conversation: conversation.id, agent: agent.id });
  }

  /** The `offer` event of an open offer (also re-sent to a client that could not resume). */
  body(offer: OfferRecord): ServerEventBody {
    const conversation = this.work.store.conversation(offer.conversationId)!;
    return {
      type: 'offer',
      offerId: offer.id,
      conversation: publicConversation({ ...conversation, status: 'offered' }),
      offeredAt: offer.offeredAt,
      expiresAt: offer.expiresAt,
    };
  }

  accept(agentId: string, offerId: string): void {
    const { store, events } = this.work;
    const offer = this.#own(agentId, offerId);
    // A repeated accept of an offer this agent already has is a no-op: the
    // `accepted` event is in the log and reaches the client on resume.
    if (offer.state === 'accepted') return;
    if (offer.state !== 'open' || this.work.now() > offer.expiresAt) {
      throw new FeedError('offer-closed', `offer ${offerId} is ${offer.state === 'open' ? 'expired' : offer.state}`, offerId);
    }
    this.work.tx(() => {
      store.closeOffer(offerId, 'accepted', this.work.now());
      store.setConversationStatus(offer.conversationId, 'active', agentId);
      store.touchAgent(agentId, this.work.now());
      const conversation = store.conversation(offer.conversationId)!;
      events.emit(agentId, { type: 'accepted', offerId, conversation: publicConversation(conversation), transcript: store.transcript(conversation.id) });
    });
    this.#disarm(offerId);
    this.tell(offer.conversationId, { type: 'joined', agentName: store.agent(agentId)!.name });
    this.work.log.info('accepted', { offer: offerId, agent: agentId });
  }

  reject(agentId: string, offerId: string, reason: string | undefined): void {
    const offer = this.#own(agentId, offerId);
    if (offer.state === 'rejected') return;
    if (offer.state !== 'open') throw new FeedError('offer-closed', `offer ${offerId} is ${offer.state}`, offerId);
    this.work.tx(() => this.withdraw(offer, 'rejected', 'rejected', reason));
    this.work.log.info('rejected', { offer: offerId, agent: agentId, reason });
    this.work.dispatch();
  }

  /**
   * The agent's browser closed the offer before the feed's deadline (its
   * template allows less time): it moves on now, as if it had expired here.
   * An offer already closed needs nothing.
   */
  browserTimeout(agentId: string, offerId: string): void {
    const offer = this.#own(agentId, offerId);
    if (offer.state !== 'open') return;
    this.work.tx(() => this.withdraw(offer, 'expired', 'expired', 'timeout in the browser'));
    this.work.log.info('offer timed out in the browser', { offer: offerId, agent: agentId });
    this.work.dispatch();
  }

  /** Closes an open offer, tells its agent why, and puts the conversation back in the queue. Call inside a transaction. */
  withdraw(offer: OfferRecord, state: 'rejected' | 'expired' | 'withdrawn', reason: WithdrawReason, agentReason?: string): void {
    if (!this.work.store.closeOffer(offer.id, state, this.work.now(), agentReason)) return;
    this.#disarm(offer.id);
    this.work.store.setConversationStatus(offer.conversationId, 'waiting', null);
    this.work.events.emit(offer.agentId, { type: 'offer-withdrawn', offerId: offer.id, reason });
  }

  /** The customer left while the conversation was offered. Call inside a transaction. */
  withdrawFor(conversationId: string): void {
    const offer = this.work.store.openOfferForConversation(conversationId);
    if (offer) this.withdraw(offer, 'withdrawn', 'customer-left');
  }

  /** An agent lost the connection and did not come back in time: its open offers go to someone else. */
  rerouteFrom(agentId: string): void {
    const offers = this.work.store.openOffersFor(agentId);
    if (offers.length === 0) return;
    this.work.tx(() => {
      for (const offer of offers) this.withdraw(offer, 'withdrawn', 'rerouted');
    });
    this.work.log.info('offers rerouted from a disconnected agent', { agent: agentId, offers: offers.length });
    this.work.dispatch();
  }

  /**
   * Agents no longer in the agents file keep nothing: their open offers and
   * their active conversations go back to the queue, for someone who can
   * answer them.
   */
  retireDisabledAgents(): void {
    const { store } = this.work;
    const gone = store.disabledAgentIds();
    if (gone.length === 0) return;
    let moved = 0;
    this.work.tx(() => {
      for (const agentId of gone) {
        for (const offer of store.openOffersFor(agentId)) {
          this.withdraw(offer, 'withdrawn', 'rerouted');
          moved++;
        }
        for (const conversation of store.activeConversations(agentId)) {
          store.setConversationStatus(conversation.id, 'waiting', null);
          moved++;
        }
      }
    });
    if (moved > 0) this.work.log.warn('agents removed from the agents file: their work went back to the queue', { agents: gone.length, conversations: moved });
  }

  /** Reroutes the offer if the agent stays connected but its client never acknowledges it. */
  #expectAck(offer: OfferRecord, seq: number): void {
    setTimeout(() => {
      if (!this.links.isConnected(offer.agentId) || this.links.ackedUpTo(offer.agentId) >= seq) return;
      const current = this.work.store.offer(offer.id);
      if (current?.state !== 'open') return;
      this.work.tx(() => this.withdraw(current, 'withdrawn', 'rerouted'));
      this.work.log.warn('offer never acknowledged; rerouted', { offer: offer.id, agent: offer.agentId });
      this.work.dispatch();
    }, this.ackTimeoutMs).unref();
  }

  #arm(offer: OfferRecord): void {
    clearTimeout(this.#timers.get(offer.id));
    const delay = Math.max(0, offer.expiresAt - this.work.now());
    this.#timers.set(
      offer.id,
      setTimeout(() => {
        this.#timers.delete(offer.id);
        const current = this.work.store.offer(offer.id);
        if (current?.state !== 'open') return;
        this.work.tx(() => this.withdraw(current, 'expired', 'expired'));
        this.work.log.info('offer expired', { offer: offer.id, agent: offer.agentId });
        this.work.dispatch();
      }, delay),
    );
  }

  #disarm(offerId: string): void {
    clearTimeout(this.#timers.get(offerId));
    this.#timers.delete(offerId);
  }

  #own(agentId: string, offerId: string): OfferRecord {
    const offer = this.work.store.offer(offerId);
    if (!offer || offer.agentId !== agentId) throw new FeedError('unknown-offer', `no offer ${offerId} for you`, offerId);
    return offer;
  }
}
