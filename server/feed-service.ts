/**
 * What the reference feed server does, apart from how bytes arrive: offers
 * conversations to agents, re-offers them on timeout or rejection, relays
 * messages and records every event in the agent's log before sending it.
 *
 * Offer lifecycle on the server:
 *
 *   waiting ──offer──► offered ──accept──► active ──end──► ended
 *      ▲                  │
 *      └──timeout/reject──┘    (customer leaves at any point → ended)
 */
import { randomUUID } from 'node:crypto';
import * as v from 'valibot';
import {
  type ClientFrame,
  type Conversation,
  DEFAULT_ROUTING,
  type ErrorCode,
  fitTranscript,
  type Media,
  type Message,
  type Presence,
  type RoutingMode,
  type Scenario,
  type ScenarioRouting,
  type ServerEvent,
  type ServerEventBody,
  ServerFrameSchema,
  type WithdrawReason,
} from '../utils/protocol/feed.ts';
import type { OutboundSender } from './channels/outbound.ts';
import {
  type AgentRecord,
  type ConversationRecord,
  type OfferRecord,
  publicConversation,
  type Store,
} from './store.ts';

/** One live agent connection, as the service sees it. */
export interface AgentLink {
  readonly agentId: string;
  presence: Presence;
  send(event: ServerEvent): void;
  /** Closes the connection; a newer connection of the same agent replaces this one. */
  close(code: number, reason: string): void;
}

export interface Logger {
  info(msg: string, data?: Record<string, unknown>): void;
  warn(msg: string, data?: Record<string, unknown>): void;
}

export const silentLogger: Logger = { info() {}, warn() {} };

/** An operator's routing configuration: per scenario, any of mode and offer time. */
export type RoutingOverrides = Partial<Record<Scenario, Partial<{ mode: RoutingMode; offerTimeoutSec: number }>>>;

export interface FeedServiceOptions {
  store: Store;
  now?: () => number;
  /** How long an agent has to answer an offer, for scenarios whose routing names no time. */
  offerTimeoutSec?: number;
  /** Per scenario: offered or assigned, and the offer time. */
  routing?: RoutingOverrides;
  /**
   * How long an agent who rejected or let an offer lapse is spared the same
   * conversation, when nobody else can take it.
   */
  reofferCooldownSec?: number;
  /**
   * How long an agent who lost the connection keeps its open offers; after
   * that they go to someone else (reason `rerouted`).
   */
  rerouteGraceSec?: number;
  /**
   * How long a connected agent's client has to acknowledge an offer (it acks
   * what it has handled); an offer it never took in goes to someone else.
   */
  ackTimeoutSec?: number;
  /** Agent replies in SMS and Messenger conversations go out through this. */
  outbound?: OutboundSender;
  logger?: Logger;
}

/** What a customer-side client (web chat) hears about its conversation. */
export type ConversationUpdate =
  | { type: 'message'; message: Message }
  | { type: 'joined'; agentName: string }
  | { type: 'ended'; by: 'customer' | 'agent' | 'system' };

export interface InboundMessage {
  source: string;
  /** The provider's id of the message: a retried webhook is recognised by it. */
  externalId: string;
  channel: 'sms' | 'facebook';
  scenario: Conversation['scenario'];
  address: string;
  customer: Conversation['customer'];
  text: string;
  /** Photos and files the customer sent with the message (https addresses). */
  media?: Media[];
}

export class FeedError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly ref?: string,
  ) {
    super(message);
  }
}

export interface NewConversation {
  scenario: Conversation['scenario'];
  channel: Conversation['channel'];
  customer: Conversation['customer'];
  comment: string;
  queue?: string;
  context?: Conversation['context'];
  waitingSince?: number;
  address?: string;
}

export class FeedService {
  readonly store: Store;
  /** The routing in force, per scenario; sent to agents in the welcome. */
  readonly routing: Record<Scenario, ScenarioRouting>;
  readonly reofferCooldownMs: number;
  readonly rerouteGraceMs: number;
  readonly ackTimeoutMs: number;
  /** Highest seq each connected agent's client has acknowledged. */
  readonly #acked = new Map<string, number>();
  readonly #outbound: OutboundSender | undefined;
  readonly #watchers = new Map<string, Set<(update: ConversationUpdate) => void>>();
  readonly #graces = new Map<string, NodeJS.Timeout>();
  #retry: NodeJS.Timeout | undefined;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #links = new Map<string, AgentLink>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #outbox: { agentId: string; event: ServerEvent }[] = [];
  /** Callers waiting for the open group commit: HTTP answers, webhook acknowledgements, welcomes. */
  #waiting: { resolve: () => void; reject: (error: Error) => void }[] = [];
  /** Events that failed the protocol schema at logging time (a bug: each is refused, never sent). */
  invalidEvents = 0;

  /**
   * Every agent with its load, as dispatch last left it: valid until a change
   * other than the offers dispatch makes itself (which it counts as it goes).
   * Dispatch runs for every new conversation; reading a thousand agents'
   * loads each time is what limited the server.
   */
  #agents: (AgentRecord & { load: number })[] | undefined;

  constructor(options: FeedServiceOptions) {
    this.store = options.store;
    this.#now = options.now ?? Date.now;
    const defaultTimeout = options.offerTimeoutSec ?? 30;
    this.routing = Object.fromEntries(
      Object.entries(DEFAULT_ROUTING).map(([scenario, base]) => [
        scenario,
        { mode: base.mode, offerTimeoutSec: defaultTimeout, ...options.routing?.[scenario as Scenario] },
      ]),
    ) as Record<Scenario, ScenarioRouting>;
    this.reofferCooldownMs = (options.reofferCooldownSec ?? 30) * 1000;
    this.rerouteGraceMs = (options.rerouteGraceSec ?? 15) * 1000;
    this.ackTimeoutMs = (options.ackTimeoutSec ?? 10) * 1000;
    this.#outbound = options.outbound;
    this.#log = options.logger ?? silentLogger;
  }

  /** Restores offer timers from the store (after a restart) and offers what waits. */
  start(): void {
    this.#retireDisabledAgents();
    for (const offer of this.store.openOffers()) this.#arm(offer);
    this.dispatch();
  }

  /**
   * Agents no longer in the agents file keep nothing: their open offers and
   * their active conversations go back to the queue, for someone who can
   * answer them.
   */
  #retireDisabledAgents(): void {
    const gone = this.store.disabledAgentIds();
    if (gone.length === 0) return;
    let moved = 0;
    this.#tx(() => {
      for (const agentId of gone) {
        for (const offer of this.store.openOffersFor(agentId)) {
          this.#withdraw(offer, 'withdrawn', 'rerouted');
          moved++;
        }
        for (const conversation of this.store.activeConversations(agentId)) {
          this.store.setConversationStatus(conversation.id, 'waiting', null);
          moved++;
        }
      }
    });
    if (moved > 0) this.#log.warn('agents removed from the agents file: their work went back to the queue', { agents: gone.length, conversations: moved });
    this.#commitNow();
  }

  stop(): void {
    this.#commitNow();
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    clearTimeout(this.#retry);
    for (const t of this.#graces.values()) clearTimeout(t);
    this.#graces.clear();
    this.#links.clear();
  }

  // -- agent connections ------------------------------------------------------

  /**
   * Attaches a connection after a valid hello. Returns the welcome and the
   * events to send right after it, in order; nothing is sent to the link
   * before the caller has sent those.
   */
  attach(agent: AgentRecord, link: AgentLink, resumeFrom: number) {
    this.#agents = undefined;
    const lastSeq = this.store.lastSeq(agent.id);
    const resumable =
      resumeFrom <= lastSeq &&
      (resumeFrom > 0 || lastSeq === 0) &&
      resumeFrom >= this.store.firstRetainedSeq(agent.id) - 1;
    let replay: ServerEvent[];
    if (resumable) {
      replay = this.store.eventsAfter(agent.id, resumeFrom);
    } else {
      // A client we cannot resume gets what is live now, as new events.
      replay = this.#tx(() => [
        ...this.store.openOffersFor(agent.id).map((o) => this.#append(agent.id, this.#offerBody(o))),
        ...this.store.activeConversations(agent.id).map((c) =>
          this.#append(agent.id, {
            type: 'accepted',
            offerId: this.#acceptedOfferId(c.id, agent.id),
            conversation: publicConversation(c),
            transcript: this.store.transcript(c.id),
          }),
        ),
      ]);
    }
    const welcome = {
      type: 'welcome' as const,
      v: 1 as const,
      agentId: agent.id,
      agentName: agent.name,
      serverTime: this.#now(),
      resumed: resumable,
      lastSeq: resumable ? resumeFrom : lastSeq,
      routing: this.routing,
      capacity: agent.capacity,
    };
    const previous = this.#links.get(agent.id);
    this.#links.set(agent.id, link);
    this.#acked.set(agent.id, resumable ? resumeFrom : 0);
    clearTimeout(this.#graces.get(agent.id));
    this.#graces.delete(agent.id);
    this.#log.info('agent attached', { agent: agent.id, resumeFrom, resumed: resumable, replay: replay.length });
    return { welcome, replay, previous };
  }

  /** Called once the welcome and replay are on the wire. */
  ready(): void {
    this.dispatch();
  }

  detach(link: AgentLink): void {
    if (this.#links.get(link.agentId) !== link) return;
    this.#links.delete(link.agentId);
    this.#log.info('agent detached', { agent: link.agentId });
    // Its offers wait a little for it to come back, then go to someone else.
    clearTimeout(this.#graces.get(link.agentId));
    this.#graces.set(
      link.agentId,
      setTimeout(() => {
        this.#graces.delete(link.agentId);
        if (this.#links.has(link.agentId)) return;
        const offers = this.store.openOffersFor(link.agentId);
        if (offers.length === 0) return;
        this.#tx(() => {
          for (const offer of offers) this.#withdraw(offer, 'withdrawn', 'rerouted');
        });
        this.#log.info('offers rerouted from a disconnected agent', { agent: link.agentId, offers: offers.length });
        this.dispatch();
      }, this.rerouteGraceMs),
    );
  }

  /** Listens to what happens in one conversation (the customer's side: web chat). */
  watch(conversationId: string, listener: (update: ConversationUpdate) => void): () => void {
    const set = this.#watchers.get(conversationId) ?? new Set();
    set.add(listener);
    this.#watchers.set(conversationId, set);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#watchers.delete(conversationId);
    };
  }

  #tell(conversationId: string, update: ConversationUpdate): void {
    for (const listener of this.#watchers.get(conversationId) ?? []) listener(update);
  }

  /**
   * A message from a channel webhook: added to the customer's open
   * conversation on that address, or opening a new one. A retried webhook
   * (same provider message id) changes nothing.
   */
  receiveInbound(inbound: InboundMessage): { conversationId: string; duplicate: boolean } {
    const result = this.#tx(() => {
      const seen = this.store.inboundConversation(inbound.source, inbound.externalId);
      if (seen) return { conversationId: seen, duplicate: true, created: false };
      // The provider's id is claimed in the same transaction as what the message does, so a crash
      // between them cannot turn the provider's retry into a second copy.
      const open = this.store.openConversationAt(inbound.channel, inbound.address);
      if (open) {
        this.store.claimInbound(inbound.source, inbound.externalId, open.id);
        this.#postMessage(open, inbound.text, 'customer', inbound.media);
        return { conversationId: open.id, duplicate: false, created: false };
      }
      const created = this.#insertConversation({
        scenario: inbound.scenario,
        channel: inbound.channel,
        customer: inbound.customer,
        comment: inbound.text || describeMedia(inbound.media),
        address: inbound.address,
        ...(inbound.media?.length ? { media: inbound.media } : {}),
      });
      this.store.claimInbound(inbound.source, inbound.externalId, created.id);
      return { conversationId: created.id, duplicate: false, created: true };
    });
    if (result.created) this.dispatch();
    return { conversationId: result.conversationId, duplicate: result.duplicate };
  }

  /** Conversations waiting for an agent, longest waiting first, with how long. */
  queue(): { conversationId: string; scenario: Conversation['scenario']; customerName: string; waitingSec: number; position: number }[] {
    const now = this.#now();
    return this.store.waitingConversations().map((c, i) => ({
      conversationId: c.id,
      scenario: c.scenario,
      customerName: c.customer.name,
      waitingSec: Math.round((now - c.waitingSince) / 1000),
      position: i + 1,
    }));
  }

  isConnected(agentId: string): boolean {
    return this.#links.has(agentId);
  }

  /** Applies one validated command from an attached agent. Throws FeedError. */
  handle(link: AgentLink, frame: Exclude<ClientFrame, { type: 'hello' | 'ping' }>): void {
    switch (frame.type) {
      case 'accept':
        return this.#accept(link.agentId, frame.offerId);
      case 'reject':
        return this.#reject(link.agentId, frame.offerId, frame.reason);
      case 'send':
        return this.#agentMessage(link.agentId, frame.conversationId, frame.clientMsgId, frame.text);
      case 'end':
        return this.#agentEnd(link.agentId, frame.conversationId);
      case 'presence':
        link.presence = frame.presence;
        if (frame.presence === 'available') this.dispatch();
        return;
      case 'timeout':
        return this.#browserTimeout(link.agentId, frame.offerId);
      case 'ack': {
        const seq = Math.min(frame.seq, this.store.lastSeq(link.agentId));
        this.#acked.set(link.agentId, Math.max(this.#acked.get(link.agentId) ?? 0, seq));
        return this.store.trimEvents(link.agentId, seq);
      }
    }
  }

  // -- conversations from channels and the HTTP API ------------------------------

  createConversation(input: NewConversation): ConversationRecord {
    const record = this.#tx(() => this.#insertConversation(input), true); // a waiting conversation is nobody's load
    this.dispatch();
    return record;
  }

  #insertConversation(input: NewConversation & { media?: Media[] }): ConversationRecord {
    const now = this.#now();
    const record: ConversationRecord = {
      id: randomUUID(),
      scenario: input.scenario,
      channel: input.channel,
      customer: input.customer,
      comment: input.comment,
      ...(input.queue ? { queue: input.queue } : {}),
      ...(input.context ? { context: input.context } : {}),
      waitingSince: input.waitingSince ?? now,
      status: 'waiting',
      agentId: null,
      createdAt: now,
      ...(input.address ? { address: input.address } : {}),
    };
    this.store.insertConversation(record);
    // The customer's first words open the transcript, with what they sent along.
    if (input.comment || input.media?.length) {
      this.store.insertMessage({
        id: randomUUID(),
        conversationId: record.id,
        from: 'customer',
        text: input.media?.length && input.comment === describeMedia(input.media) ? '' : input.comment,
        at: now,
        ...(input.media?.length ? { media: input.media } : {}),
      });
    }
    this.#log.info('conversation created', { id: record.id, scenario: record.scenario });
    return record;
  }

  /** A message from the customer (or the bot) side of a conversation. */
  postMessage(conversationId: string, text: string, from: 'customer' | 'bot' | 'system' = 'customer', media?: Media[]): Message {
    const conversation = this.store.conversation(conversationId);
    if (!conversation) throw new FeedError('unknown-conversation', `no conversation ${conversationId}`, conversationId);
    return this.#tx(() => this.#postMessage(conversation, text, from, media));
  }

  #postMessage(conversation: ConversationRecord, text: string, from: 'customer' | 'bot' | 'system', media?: Media[]): Message {
    if (conversation.status === 'ended') {
      throw new FeedError('unknown-conversation', `conversation ${conversation.id} has ended`, conversation.id);
    }
    const message: Message = { id: randomUUID(), conversationId: conversation.id, from, text, at: this.#now(), ...(media?.length ? { media } : {}) };
    this.store.insertMessage(message);
    if (conversation.status === 'active' && conversation.agentId) {
      this.#emit(conversation.agentId, { type: 'message', message });
    }
    this.#afterCommit(() => this.#tell(conversation.id, { type: 'message', message }));
    return message;
  }

  /** The customer left, or a channel closed the conversation. */
  endByCustomer(conversationId: string): void {
    const conversation = this.store.conversation(conversationId);
    if (!conversation) throw new FeedError('unknown-conversation', `no conversation ${conversationId}`, conversationId);
    if (conversation.status === 'ended') return;
    this.#tx(() => {
      const offer = this.store.openOfferForConversation(conversationId);
      if (offer) this.#withdraw(offer, 'withdrawn', 'customer-left');
      if (conversation.status === 'active' && conversation.agentId) {
        this.#emit(conversation.agentId, { type: 'conversation-ended', conversationId, by: 'customer' });
      }
      this.store.setConversationStatus(conversationId, 'ended', conversation.agentId);
    });
    this.#afterCommit(() => this.#tell(conversationId, { type: 'ended', by: 'customer' }));
  }

  // -- routing --------------------------------------------------------------------

  /**
   * Offers each waiting conversation, longest waiting first, to the
   * longest-idle available agent with room. Agents who already had the
   * conversation are passed over while someone else can take it, and get it
   * again only after a cool-down, so a rejection is not answered by the same
   * offer at once.
   */
  dispatch(): void {
    const waiting = this.store.waitingConversations();
    if (waiting.length === 0) return;
    const available = [...this.#links.values()].filter((l) => l.presence === 'available').map((l) => l.agentId);
    if (available.length === 0) return;
    const now = this.#now();
    let retryAt = Infinity;
    // Loads are read once and kept up to date here as offers go out.
    const all = (this.#agents ??= this.store.agentsWithLoad());
    const ready = new Set(available);
    const agents = all.filter((a) => ready.has(a.id));
    for (const conversation of waiting) {
      const candidates = agents.filter((a) => a.load < a.capacity);
      if (candidates.length === 0) break;
      if (this.routing[conversation.scenario].mode === 'assign') {
        const chosen = longestIdle(candidates);
        this.#assign(conversation, chosen);
        chosen.load++;
        chosen.lastWorkAt = now;
        continue;
      }
      const tried = this.store.offeredAgents(conversation.id);
      const fresh = candidates.filter((a) => !tried.has(a.id));
      const rested = candidates.filter((a) => (tried.get(a.id) ?? 0) + this.reofferCooldownMs <= now);
      const pool = fresh.length > 0 ? fresh : rested;
      if (pool.length === 0) {
        retryAt = Math.min(retryAt, ...candidates.map((a) => (tried.get(a.id) ?? 0) + this.reofferCooldownMs));
        continue;
      }
      const chosen = longestIdle(pool);
      this.#offer(conversation, chosen);
      chosen.load++;
      chosen.lastWorkAt = now;
    }
    if (retryAt < Infinity) {
      clearTimeout(this.#retry);
      this.#retry = setTimeout(() => this.dispatch(), Math.max(0, retryAt - now));
    }
  }

  /**
   * Gives the conversation to the agent outright: it is active and theirs when
   * the event goes out, and nothing (no timeout, no reroute) takes it back.
   */
  #assign(conversation: ConversationRecord, agent: AgentRecord): void {
    const now = this.#now();
    this.#tx(() => {
      this.store.setConversationStatus(conversation.id, 'active', agent.id);
      this.store.touchAgent(agent.id, now);
      this.#emit(agent.id, {
        type: 'assigned',
        conversation: publicConversation({ ...conversation, status: 'active', agentId: agent.id }),
        transcript: this.store.transcript(conversation.id),
      });
    }, true); // dispatch counts it in its loads
    this.#afterCommit(() => this.#tell(conversation.id, { type: 'joined', agentName: agent.name }));
    this.#log.info('assigned', { conversation: conversation.id, agent: agent.id });
  }

  #offer(conversation: ConversationRecord, agent: AgentRecord): void {
    const now = this.#now();
    const offer: OfferRecord = {
      id: randomUUID(),
      conversationId: conversation.id,
      agentId: agent.id,
      offeredAt: now,
      expiresAt: now + this.routing[conversation.scenario].offerTimeoutSec * 1000,
      state: 'open',
    };
    const event = this.#tx(() => {
      this.store.insertOffer(offer);
      this.store.setConversationStatus(conversation.id, 'offered', null);
      this.store.touchAgent(agent.id, now);
      return this.#emit(agent.id, this.#offerBody(offer));
    }, true); // dispatch counts the offer in its loads
    this.#arm(offer);
    this.#expectAck(offer, event.seq);
    this.#log.info('offered', { conversation: conversation.id, agent: agent.id, offer: offer.id });
  }

  #offerBody(offer: OfferRecord): ServerEventBody {
    const conversation = this.store.conversation(offer.conversationId)!;
    return {
      type: 'offer',
      offerId: offer.id,
      conversation: publicConversation({ ...conversation, status: 'offered' }),
      offeredAt: offer.offeredAt,
      expiresAt: offer.expiresAt,
    };
  }

  /** Reroutes the offer if the agent stays connected but its client never acknowledges it. */
  #expectAck(offer: OfferRecord, seq: number): void {
    setTimeout(() => {
      if (!this.#links.has(offer.agentId) || (this.#acked.get(offer.agentId) ?? 0) >= seq) return;
      const current = this.store.offer(offer.id);
      if (current?.state !== 'open') return;
      this.#tx(() => this.#withdraw(current, 'withdrawn', 'rerouted'));
      this.#log.warn('offer never acknowledged; rerouted', { offer: offer.id, agent: offer.agentId });
      this.dispatch();
    }, this.ackTimeoutMs).unref();
  }

  #arm(offer: OfferRecord): void {
    clearTimeout(this.#timers.get(offer.id));
    const delay = Math.max(0, offer.expiresAt - this.#now());
    this.#timers.set(
      offer.id,
      setTimeout(() => {
        this.#timers.delete(offer.id);
        const current = this.store.offer(offer.id);
        if (current?.state !== 'open') return;
        this.#tx(() => this.#withdraw(current, 'expired', 'expired'));
        this.#log.info('offer expired', { offer: offer.id, agent: offer.agentId });
        this.dispatch();
      }, delay),
    );
  }

  /** Closes an open offer, tells its agent why, and puts the conversation back in the queue. */
  #withdraw(offer: OfferRecord, state: 'rejected' | 'expired' | 'withdrawn', reason: WithdrawReason, agentReason?: string): void {
    if (!this.store.closeOffer(offer.id, state, this.#now(), agentReason)) return;
    clearTimeout(this.#timers.get(offer.id));
    this.#timers.delete(offer.id);
    this.store.setConversationStatus(offer.conversationId, 'waiting', null);
    this.#emit(offer.agentId, { type: 'offer-withdrawn', offerId: offer.id, reason });
  }

  #ownOffer(agentId: string, offerId: string): OfferRecord {
    const offer = this.store.offer(offerId);
    if (!offer || offer.agentId !== agentId) throw new FeedError('unknown-offer', `no offer ${offerId} for you`, offerId);
    return offer;
  }

  #accept(agentId: string, offerId: string): void {
    const offer = this.#ownOffer(agentId, offerId);
    // A repeated accept of an offer this agent already has is a no-op: the
    // `accepted` event is in the log and reaches the client on resume.
    if (offer.state === 'accepted') return;
    if (offer.state !== 'open' || this.#now() > offer.expiresAt) {
      throw new FeedError('offer-closed', `offer ${offerId} is ${offer.state === 'open' ? 'expired' : offer.state}`, offerId);
    }
    this.#tx(() => {
      this.store.closeOffer(offerId, 'accepted', this.#now());
      this.store.setConversationStatus(offer.conversationId, 'active', agentId);
      this.store.touchAgent(agentId, this.#now());
      const conversation = this.store.conversation(offer.conversationId)!;
      this.#emit(agentId, {
        type: 'accepted',
        offerId,
        conversation: publicConversation(conversation),
        transcript: this.store.transcript(conversation.id),
      });
    });
    clearTimeout(this.#timers.get(offerId));
    this.#timers.delete(offerId);
    const agentName = this.store.agent(agentId)!.name;
    this.#afterCommit(() => this.#tell(offer.conversationId, { type: 'joined', agentName }));
    this.#log.info('accepted', { offer: offerId, agent: agentId });
  }

  #reject(agentId: string, offerId: string, reason: string | undefined): void {
    const offer = this.#ownOffer(agentId, offerId);
    if (offer.state === 'rejected') return;
    if (offer.state !== 'open') throw new FeedError('offer-closed', `offer ${offerId} is ${offer.state}`, offerId);
    this.#tx(() => this.#withdraw(offer, 'rejected', 'rejected', reason));
    this.#log.info('rejected', { offer: offerId, agent: agentId, reason });
    this.dispatch();
  }

  /**
   * The agent's browser closed the offer before the feed's deadline (its
   * template allows less time): it moves on now, as if it had expired here.
   * An offer already closed needs nothing.
   */
  #browserTimeout(agentId: string, offerId: string): void {
    const offer = this.#ownOffer(agentId, offerId);
    if (offer.state !== 'open') return;
    this.#tx(() => this.#withdraw(offer, 'expired', 'expired', 'timeout in the browser'));
    this.#log.info('offer timed out in the browser', { offer: offerId, agent: agentId });
    this.dispatch();
  }

  #ownConversation(agentId: string, conversationId: string): ConversationRecord {
    const c = this.store.conversation(conversationId);
    if (!c || c.agentId !== agentId) {
      throw new FeedError('unknown-conversation', `conversation ${conversationId} is not yours`, conversationId);
    }
    return c;
  }

  #agentMessage(agentId: string, conversationId: string, clientMsgId: string, text: string): void {
    const c = this.#ownConversation(agentId, conversationId);
    if (c.status !== 'active') throw new FeedError('unknown-conversation', `conversation ${conversationId} has ended`, clientMsgId);
    const agent = this.store.agent(agentId)!;
    const message: Message = { id: randomUUID(), conversationId, from: 'agent', text, at: this.#now(), clientMsgId, author: agent.name };
    const fresh = this.#tx(() => {
      if (!this.store.insertMessage(message)) return false;
      this.#emit(agentId, { type: 'message', message });
      return true;
    });
    if (!fresh) return;
    this.#afterCommit(() => {
      this.#tell(conversationId, { type: 'message', message });
      if ((c.channel === 'sms' || c.channel === 'facebook') && c.address) {
        void this.#outbound?.send({ channel: c.channel, to: c.address, text, conversationId });
      }
    });
  }

  #agentEnd(agentId: string, conversationId: string): void {
    const c = this.#ownConversation(agentId, conversationId);
    if (c.status === 'ended') return;
    this.#tx(() => {
      this.store.setConversationStatus(conversationId, 'ended', agentId);
      this.#emit(agentId, { type: 'conversation-ended', conversationId, by: 'agent' });
    });
    this.#afterCommit(() => this.#tell(conversationId, { type: 'ended', by: 'agent' }));
    this.dispatch();
  }

  #acceptedOfferId(conversationId: string, agentId: string): string {
    const row = this.store.db
      .prepare(`select id from offers where conversation_id = ? and agent_id = ? and state = 'accepted' order by offered_at desc`)
      .get(conversationId, agentId) as { id: string } | undefined;
    return row?.id ?? conversationId;
  }

  /**
   * Runs a state change in one transaction. Transactions of one event-loop
   * turn commit together (group commit: one fsync for all of them, with
   * `synchronous = FULL`); the events they logged are sent, and `committed()`
   * resolves, only after that commit. Nothing reaches an agent, a customer or
   * an HTTP client unless it is on disk.
   */
  #tx<T>(fn: () => T, keepsLoads = false): T {
    if (!keepsLoads) this.#agents = undefined;
    this.#openBatch();
    const mark = this.#outbox.length;
    const after = this.#after.length;
    try {
      // Inside the open batch this is a savepoint: a failed change is undone alone.
      return this.store.transaction(fn);
    } catch (error) {
      this.#outbox.length = mark;
      this.#after.length = after;
      this.#agents = undefined;
      throw error;
    }
  }

  readonly #after: (() => void)[] = [];

  /** Runs `fn` once what has been written so far is committed. */
  #afterCommit(fn: () => void): void {
    if (this.store.db.inTransaction) this.#after.push(fn);
    else fn();
  }

  #openBatch(): void {
    if (this.store.db.inTransaction) return;
    this.store.db.exec('begin');
    setImmediate(() => this.#commitNow());
  }

  /** Resolves when everything written so far is committed; rejects if that commit failed. */
  committed(): Promise<void> {
    if (!this.store.db.inTransaction) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  #commitNow(): void {
    if (!this.store.db.inTransaction || !this.store.db.open) return;
    const waiting = this.#waiting.splice(0);
    try {
      this.store.db.exec('commit');
    } catch (error) {
      if (this.store.db.inTransaction) this.store.db.exec('rollback');
      this.#outbox.length = 0;
      this.#after.length = 0;
      this.#agents = undefined;
      this.#log.warn('commit failed: the changes of this turn are undone', { error: String(error) });
      for (const w of waiting) w.reject(new Error('the change could not be saved'));
      return;
    }
    for (const { agentId, event } of this.#outbox.splice(0)) this.#links.get(agentId)?.send(event);
    for (const fn of this.#after.splice(0)) fn();
    for (const w of waiting) w.resolve();
  }

  /**
   * Logs the event; it is sent when the transaction commits, or replayed on
   * resume if the agent is away. An `accepted` event carries as much of the
   * transcript as a frame may; every event is checked against the protocol
   * schema, so no client is ever sent a frame it must refuse.
   */
  #emit(agentId: string, body: ServerEventBody): ServerEvent {
    const event = this.#append(agentId, body);
    this.#outbox.push({ agentId, event });
    return event;
  }

  #append(agentId: string, body: ServerEventBody): ServerEvent {
    let fitted = body;
    if (body.type === 'accepted' || body.type === 'assigned') {
      const { transcript, trimmed } = fitTranscript(body);
      if (trimmed > 0) {
        this.#log.warn('transcript too long for one frame: the event carries the newest messages', { agent: agentId, trimmed });
        fitted = { ...body, transcript };
      }
    }
    const result = v.safeParse(ServerFrameSchema, { ...fitted, seq: 1 });
    if (!result.success) {
      this.invalidEvents++;
      const issue = result.issues[0];
      const where = issue.path?.map((p) => String(p.key)).join('.');
      this.#log.warn('refused to log an event the protocol does not allow', { agent: agentId, type: body.type, error: `${where}: ${issue.message}` });
      throw new FeedError('internal', 'the server could not apply that change');
    }
    return this.store.appendEvent(agentId, fitted);
  }
}

/** The agent who has gone longest without new work (ties: the smallest id, so the choice is stable). */
function longestIdle<A extends { id: string; lastWorkAt: number }>(pool: readonly A[]): A {
  let chosen = pool[0]!;
  for (const a of pool) if (a.lastWorkAt < chosen.lastWorkAt || (a.lastWorkAt === chosen.lastWorkAt && a.id < chosen.id)) chosen = a;
  return chosen;
}

/** The comment of a conversation that opened with media only. */
function describeMedia(media: Media[] | undefined): string {
  if (!media?.length) return '';
  return media.length === 1 ? '[1 attachment]' : `[${media.length} attachments]`;
}
