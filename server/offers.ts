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
import type { Tx } from './event-log.ts';
import { type AgentRecord, type ConversationRecord, type OfferRecord, publicConversation, type Queries } from './store.ts';
import type { Work } from './work.ts';

/** What became of a conversation dispatch handed out: given, taken by someone else first, or the agent was full. */
export type Handed = 'given' | 'taken' | 'full';

export class Offers {
  readonly #timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly work: Work,
    private readonly routing: Record<Scenario, ScenarioRouting>,
    private readonly links: AgentLinks,
    private readonly ackTimeoutMs: number,
    private readonly tell: (t: Tx, conversationId: string, update: ConversationUpdate) => void,
  ) {}

  /** Arms the timers of offers still open in the store (after a restart). */
  async restore(): Promise<void> {
    for (const offer of await this.work.store.openOffers()) this.#arm(offer);
  }

  stop(): void {
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }

  /** Offers a waiting conversation to the agent: `taken` when it was no longer waiting, `full` when the agent had no room left (another node gave it work). */
  async offer(conversation: ConversationRecord, agent: AgentRecord): Promise<Handed> {
    const now = this.work.now();
    const offer: OfferRecord = {
      id: randomUUID(),
      conversationId: conversation.id,
      agentId: agent.id,
      offeredAt: now,
      expiresAt: now + this.routing[conversation.scenario].offerTimeoutSec * 1000,
      state: 'open',
    };
    const event = await this.work.tx(async (t) => {
      if (!(await t.q.roomFor(agent.id, now))) return 'full';
      if (!(await t.q.openOffer(offer))) return 'taken';
      return t.emit(agent.id, this.body({ ...conversation, status: 'offered' }, offer));
    }, true); // dispatch counts the offer in its loads
    if (typeof event === 'string') return event;
    this.#arm(offer);
    this.expectAck(offer, event.seq);
    this.work.counted('offered');
    this.work.log.info('offered', { conversation: conversation.id, agent: agent.id, offer: offer.id });
    return 'given';
  }

  /**
   * Gives the conversation to the agent outright: it is active and theirs when
   * the event goes out, and nothing (no timeout, no reroute) takes it back.
   */
  async assign(conversation: ConversationRecord, agent: AgentRecord): Promise<Handed> {
    const assigned = await this.work.tx(async (t): Promise<Handed> => {
      if (!(await t.q.roomFor(agent.id, this.work.now()))) return 'full';
      if (!(await t.q.moveConversation(conversation.id, 'waiting', 'active', agent.id))) return 'taken';
      await t.emit(agent.id, {
        type: 'assigned',
        conversation: publicConversation({ ...conversation, status: 'active', agentId: agent.id }),
        transcript: await t.q.transcript(conversation.id),
      });
      this.tell(t, conversation.id, { type: 'joined', agentName: agent.name });
      return 'given';
    }, true); // dispatch counts it in its loads
    if (assigned === 'given') {
      this.work.counted('assigned');
      this.work.log.info('assigned', { conversation: conversation.id, agent: agent.id });
    }
    return assigned;
  }

  /** The `offer` event of an open offer (also re-sent to a client that could not resume). */
  body(conversation: ConversationRecord, offer: OfferRecord): ServerEventBody {
    return {
      type: 'offer',
      offerId: offer.id,
      conversation: publicConversation({ ...conversation, status: 'offered' }),
      offeredAt: offer.offeredAt,
      expiresAt: offer.expiresAt,
    };
  }

  async accept(agentId: string, offerId: string): Promise<void> {
    const accepted = await this.work.tx(async (t) => {
      const offer = await this.#own(t.q, agentId, offerId);
      // A repeated accept of an offer this agent already has is a no-op: the
      // `accepted` event is in the log and reaches the client on resume.
      if (offer.state === 'accepted') return false;
      const now = this.work.now();
      if (offer.state !== 'open' || now > offer.expiresAt || !(await t.q.closeOffer(offerId, 'accepted', now))) {
        throw new FeedError('offer-closed', `offer ${offerId} is ${offer.state === 'open' ? 'expired' : offer.state}`, offerId);
      }
      await t.q.setConversationStatus(offer.conversationId, 'active', agentId);
      await t.q.touchAgent(agentId, now);
      const conversation = (await t.q.conversation(offer.conversationId))!;
      await t.emit(agentId, { type: 'accepted', offerId, conversation: publicConversation(conversation), transcript: await t.q.transcript(conversation.id) });
      this.tell(t, offer.conversationId, { type: 'joined', agentName: (await t.q.agent(agentId))!.name });
      return true;
    });
    if (!accepted) return;
    this.#disarm(offerId);
    this.work.counted('accepted');
    this.work.log.info('accepted', { offer: offerId, agent: agentId });
  }

  async reject(agentId: string, offerId: string, reason: string | undefined): Promise<void> {
    const closed = await this.work.tx(async (t) => {
      const offer = await this.#own(t.q, agentId, offerId);
      if (offer.state === 'rejected') return false;
      if (offer.state !== 'open') throw new FeedError('offer-closed', `offer ${offerId} is ${offer.state}`, offerId);
      return this.withdraw(t, offer, 'rejected', 'rejected', reason);
    });
    if (!closed) return;
    this.work.log.info('rejected', { offer: offerId, agent: agentId, reason });
    this.work.dispatch();
  }

  /**
   * The agent's browser closed the offer before the feed's deadline (its
   * template allows less time): it moves on now, as if it had expired here.
   * An offer already closed needs nothing.
   */
  async browserTimeout(agentId: string, offerId: string): Promise<void> {
    const closed = await this.work.tx(async (t) => {
      const offer = await this.#own(t.q, agentId, offerId);
      return offer.state === 'open' && this.withdraw(t, offer, 'expired', 'expired', 'timeout in the browser');
    });
    if (!closed) return;
    this.work.log.info('offer timed out in the browser', { offer: offerId, agent: agentId });
    this.work.dispatch();
  }

  /** Closes an open offer, tells its agent why, and puts the conversation back in the queue; false when it was closed already. */
  async withdraw(t: Tx, offer: OfferRecord, state: 'rejected' | 'expired' | 'withdrawn', reason: WithdrawReason, agentReason?: string): Promise<boolean> {
    if (!(await t.q.closeOffer(offer.id, state, this.work.now(), agentReason))) return false;
    t.afterCommit(() => {
      this.#disarm(offer.id);
      this.work.counted(reason);
    });
    await t.q.moveConversation(offer.conversationId, 'offered', 'waiting', null);
    await t.emit(offer.agentId, { type: 'offer-withdrawn', offerId: offer.id, reason });
    return true;
  }

  /** The customer left while the conversation was offered. */
  async withdrawFor(t: Tx, conversationId: string): Promise<void> {
    const offer = await t.q.openOfferForConversation(conversationId);
    if (offer) await this.withdraw(t, offer, 'withdrawn', 'customer-left');
  }

  /** An agent lost the connection and did not come back in time: its open offers go to someone else. */
  async rerouteFrom(agentId: string): Promise<void> {
    const moved = await this.work.tx(async (t) => {
      let n = 0;
      for (const offer of await t.q.openOffersFor(agentId)) if (await this.withdraw(t, offer, 'withdrawn', 'rerouted')) n++;
      return n;
    });
    if (moved === 0) return;
    this.work.log.info('offers rerouted from a disconnected agent', { agent: agentId, offers: moved });
    this.work.dispatch();
  }

  /**
   * Agents no longer in the agents file keep nothing: their open offers and
   * their active conversations go back to the queue, for someone who can
   * answer them.
   */
  async retireDisabledAgents(): Promise<void> {
    const gone = await this.work.store.disabledAgentIds();
    if (gone.length === 0) return;
    const moved = await this.work.tx(async (t) => {
      let n = 0;
      for (const agentId of gone) {
        for (const offer of await t.q.openOffersFor(agentId)) if (await this.withdraw(t, offer, 'withdrawn', 'rerouted')) n++;
        for (const conversation of await t.q.activeConversations(agentId)) {
          await t.q.setConversationStatus(conversation.id, 'waiting', null);
          n++;
        }
      }
      return n;
    });
    if (moved > 0) this.work.log.warn('agents removed from the agents file: their work went back to the queue', { agents: gone.length, conversations: moved });
  }

  /** An open offer past its deadline whose timer was on a node that is gone: it expires here. */
  expire(offerId: string): Promise<void> {
    return this.#close(offerId, 'expired', 'expired', 'offer expired (its node was gone)');
  }

  /** Closes an offer that is still open (its timer, a missing acknowledgement) and offers the conversation again. */
  async #close(offerId: string, state: 'expired' | 'withdrawn', reason: WithdrawReason, message: string): Promise<void> {
    const offer = await this.work.tx(async (t) => {
      const current = await t.q.offer(offerId);
      return current?.state === 'open' && (await this.withdraw(t, current, state, reason)) ? current : undefined;
    });
    if (!offer) return;
    this.work.log.info(message, { offer: offerId, agent: offer.agentId });
    this.work.dispatch();
  }

  /**
   * Reroutes the offer if the agent stays connected but its client never
   * acknowledges it in time. Armed where the offer is made, and on a cluster
   * also where it was sent (the agent's node, when another node made it); it
   * does nothing on a node the agent is not connected to, and closing is
   * conditional, so it happens once.
   */
  expectAck(offer: Pick<OfferRecord, 'id' | 'agentId'>, seq: number): void {
    setTimeout(() => {
      if (!this.links.isConnected(offer.agentId) || this.links.ackedUpTo(offer.agentId) >= seq) return;
      this.#close(offer.id, 'withdrawn', 'rerouted', 'offer never acknowledged; rerouted').catch((error: unknown) =>
        this.work.log.warn('could not reroute an unacknowledged offer', { offer: offer.id, error: String(error) }),
      );
    }, this.ackTimeoutMs).unref();
  }

  #arm(offer: OfferRecord): void {
    clearTimeout(this.#timers.get(offer.id));
    const delay = Math.max(0, offer.expiresAt - this.work.now());
    this.#timers.set(
      offer.id,
      setTimeout(() => {
        this.#timers.delete(offer.id);
        this.#close(offer.id, 'expired', 'expired', 'offer expired').catch((error: unknown) => {
          // The store failed (a database that went away): try again shortly rather than leave the offer open.
          this.work.log.warn('could not expire an offer; trying again', { offer: offer.id, error: String(error) });
          this.#arm({ ...offer, expiresAt: this.work.now() + 1000 });
        });
      }, delay),
    );
  }

  #disarm(offerId: string): void {
    clearTimeout(this.#timers.get(offerId));
    this.#timers.delete(offerId);
  }

  async #own(q: Queries, agentId: string, offerId: string): Promise<OfferRecord> {
    const offer = await q.offer(offerId);
    if (!offer || offer.agentId !== agentId) throw new FeedError('unknown-offer', `no offer ${offerId} for you`, offerId);
    return offer;
  }
}
