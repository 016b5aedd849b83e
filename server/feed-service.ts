/**
 * The feed service, apart from how bytes arrive: it puts the parts together
 * and hands waiting conversations to agents.
 *
 * - conversations.ts: conversations and messages, the customer's side
 * - offers.ts: offering, assigning, timeouts, rejections, reroutes
 * - agent-links.ts: live connections, acknowledgements, grace
 * - routing.ts: who gets a conversation (pure)
 * - event-log.ts: every change in a transaction; events out only once committed
 * - store.ts: all SQL
 */
import {
  type ClientFrame,
  CLOSE,
  type Conversation,
  DEFAULT_ROUTING,
  type Media,
  type Message,
  type RoutingMode,
  type Scenario,
  type ScenarioRouting,
  type ServerEvent,
  welcomeFrame,
} from '../protocol/feed.ts';
import { type AgentLink, AgentLinks } from './agent-links.ts';
import { Deliverer, type DeliveryOptions } from './channels/delivery.ts';
import type { ChannelSender, OutboundChannel } from './channels/outbound.ts';
import { type ConversationUpdate, Conversations, type InboundMessage, type NewConversation } from './conversations.ts';
import { EventLog } from './event-log.ts';
import { type Logger, silentLogger } from './logger.ts';
import { Offers } from './offers.ts';
import { pickAgent } from './routing.ts';
import { type AgentRecord, type ConversationRecord, publicConversation, type Store } from './store.ts';
import type { Work } from './work.ts';

export type { AgentLink } from './agent-links.ts';

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
  /** Agent replies in SMS and Messenger conversations go out through these; a channel without one fails its replies clearly. */
  senders?: Partial<Record<OutboundChannel, ChannelSender>>;
  /** Retry and in-doubt timing of the outbox (channels/delivery.ts). */
  delivery?: DeliveryOptions;
  logger?: Logger;
}

/** Acknowledged events are trimmed from the log every so often, for so many agents at a time. */
const TRIM_EVERY_MS = 100;
const TRIM_AGENTS = 50;

export class FeedService {
  readonly store: Store;
  /** The routing in force, per scenario; sent to agents in the welcome. */
  readonly routing: Record<Scenario, ScenarioRouting>;
  readonly reofferCooldownMs: number;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #events: EventLog;
  readonly #links: AgentLinks;
  readonly #conversations: Conversations;
  readonly #offers: Offers;
  /** Agent replies on their way to SMS and Messenger customers. */
  readonly delivery: Deliverer;
  #retry: NodeJS.Timeout | undefined;

  /**
   * Every agent with its load, as dispatch last left it: valid until a change
   * other than the offers dispatch makes itself (which it counts as it goes).
   * Dispatch runs for every new conversation; reading a thousand agents'
   * loads each time is what limited the server.
   */
  #agents: (AgentRecord & { load: number })[] | undefined;
  /** The available agents with room, as the last dispatch left them, and what they were built from. */
  #candidates: { from: (AgentRecord & { load: number })[]; version: number; list: (AgentRecord & { load: number })[] } | undefined;
  /** Agents' acknowledged seqs not yet trimmed from the log, and the timer that trims them. */
  readonly #trims = new Map<string, number>();
  #trimTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: FeedServiceOptions) {
    this.store = options.store;
    this.#now = options.now ?? Date.now;
    this.#log = options.logger ?? silentLogger;
    const defaultTimeout = options.offerTimeoutSec ?? 30;
    this.routing = Object.fromEntries(
      Object.entries(DEFAULT_ROUTING).map(([scenario, base]) => [scenario, { mode: base.mode, offerTimeoutSec: defaultTimeout, ...options.routing?.[scenario as Scenario] }]),
    ) as Record<Scenario, ScenarioRouting>;
    this.reofferCooldownMs = (options.reofferCooldownSec ?? 30) * 1000;
    this.#events = new EventLog(this.store, (agentId, event) => this.#links.send(agentId, event), this.#log, () => (this.#agents = undefined));
    const work: Work = {
      store: this.store,
      events: this.#events,
      log: this.#log,
      now: this.#now,
      tx: (fn, keepsLoads) => {
        if (!keepsLoads) this.#agents = undefined;
        return this.#events.tx(fn);
      },
      dispatch: () => this.dispatch(),
    };
    this.#links = new AgentLinks((options.rerouteGraceSec ?? 15) * 1000, this.#log, (agentId) => this.#offers.rerouteFrom(agentId));
    this.delivery = new Deliverer(work, options.senders ?? {}, options.delivery);
    this.#conversations = new Conversations(work, (conversationId) => this.#offers.withdrawFor(conversationId), this.delivery);
    this.#offers = new Offers(work, this.routing, this.#links, (options.ackTimeoutSec ?? 10) * 1000, (id, update) => this.#conversations.tell(id, update));
  }

  /** Events that failed the protocol schema at logging time (a bug: each was refused, never sent). */
  get invalidEvents(): number {
    return this.#events.invalidEvents;
  }

  /** Restores offer timers from the store (after a restart), retires removed agents' work, and offers what waits. */
  start(): void {
    this.#offers.retireDisabledAgents();
    this.#events.commitNow();
    this.#offers.restore();
    this.dispatch();
    this.delivery.start();
  }

  /** Stops timers and waits a little for replies in flight to a provider (any left are in doubt at the next start). */
  async stop(): Promise<void> {
    await this.delivery.stop();
    this.#trimSome(Infinity);
    this.#events.commitNow();
    this.#offers.stop();
    clearTimeout(this.#retry);
    this.#links.clear();
  }

  /** Resolves when everything written so far is committed; rejects if that commit failed. */
  committed(): Promise<void> {
    return this.#events.committed();
  }

  // -- agent connections ------------------------------------------------------

  /**
   * Attaches a connection after a valid hello. Returns the welcome and the
   * events to send right after it, in order; nothing is sent to the link
   * before the caller has sent those.
   */
  attach(agent: AgentRecord, link: AgentLink, resumeFrom: number, heartbeatSec: number) {
    this.#agents = undefined;
    const { store } = this;
    const lastSeq = store.lastSeq(agent.id);
    const resumable = resumeFrom <= lastSeq && (resumeFrom > 0 || lastSeq === 0) && resumeFrom >= store.firstRetainedSeq(agent.id) - 1;
    // A client we cannot resume gets what is live now, as new events.
    const replay: ServerEvent[] = resumable
      ? store.eventsAfter(agent.id, resumeFrom)
      : this.#events.tx(() => [
          ...store.openOffersFor(agent.id).map((o) => this.#events.append(agent.id, this.#offers.body(o))),
          ...store.activeConversations(agent.id).map((c) =>
            this.#events.append(agent.id, {
              type: 'accepted',
              offerId: store.acceptedOfferId(c.id, agent.id) ?? c.id,
              conversation: publicConversation(c),
              transcript: store.transcript(c.id),
            }),
          ),
        ]);
    const welcome = welcomeFrame({
      agentId: agent.id,
      agentName: agent.name,
      serverTime: this.#now(),
      heartbeatSec,
      resumed: resumable,
      lastSeq: resumable ? resumeFrom : lastSeq,
      routing: this.routing,
      capacity: agent.capacity,
    });
    const previous = this.#links.attach(link, resumable ? resumeFrom : 0);
    this.#log.info('agent attached', { agent: agent.id, resumeFrom, resumed: resumable, replay: replay.length });
    return { welcome, replay, previous };
  }

  /** Called once the welcome and replay are on the wire. */
  ready(): void {
    this.dispatch();
  }

  /** The connection closed: its offers wait a little for it to come back, then go to someone else. */
  detach(link: AgentLink): void {
    this.#links.detach(link);
  }

  /** Agents were added or their queues changed (sign-in): routing reads them again. */
  agentsChanged(): void {
    this.#agents = undefined;
  }

  /**
   * Signs an agent out everywhere (an admin's call): sign-in tokens issued
   * until now open nothing, and the agent's connection is closed. Their
   * offers go to others after the usual grace. False for an unknown agent.
   */
  signOut(agentId: string): boolean {
    if (!this.store.revokeAgentTokens(agentId, this.#now())) return false;
    this.#links.close(agentId, CLOSE.unauthorized, 'signed out by an admin: sign in again');
    this.#log.info('agent signed out by an admin', { agent: agentId });
    return true;
  }

  isConnected(agentId: string): boolean {
    return this.#links.isConnected(agentId);
  }

  /** Applies one validated command from an attached agent. Throws FeedError. */
  handle(link: AgentLink, frame: Exclude<ClientFrame, { type: 'hello' | 'ping' | 'auth' }>): void {
    switch (frame.type) {
      case 'accept':
        return this.#offers.accept(link.agentId, frame.offerId);
      case 'reject':
        return this.#offers.reject(link.agentId, frame.offerId, frame.reason);
      case 'timeout':
        return this.#offers.browserTimeout(link.agentId, frame.offerId);
      case 'send':
        return this.#conversations.agentMessage(link.agentId, frame.conversationId, frame.clientMsgId, frame.text);
      case 'end':
        return this.#conversations.agentEnd(link.agentId, frame.conversationId);
      case 'retry-delivery':
        return this.delivery.retry(link.agentId, frame.conversationId, frame.messageId);
      case 'presence':
        this.#links.setPresence(link, frame.presence);
        if (frame.presence === 'available') this.dispatch();
        return;
      case 'ack': {
        const seq = Math.min(frame.seq, this.store.lastSeq(link.agentId));
        this.#links.ack(link.agentId, seq);
        return this.#trimLater(link.agentId, seq);
      }
    }
  }

  /**
   * Acknowledged events are forgotten a few agents at a time, in the turn's
   * batch: a delete per ack would be a commit, and an fsync, per event, and
   * all agents at once would stall the server. A trim lost in a crash costs
   * nothing but events the client drops as seen.
   */
  #trimLater(agentId: string, seq: number): void {
    this.#trims.set(agentId, Math.max(this.#trims.get(agentId) ?? 0, seq));
    this.#trimTimer ??= setTimeout(() => this.#trimSome(TRIM_AGENTS), TRIM_EVERY_MS);
  }

  #trimSome(agents: number): void {
    clearTimeout(this.#trimTimer);
    this.#trimTimer = undefined;
    if (this.#trims.size === 0) return;
    // The oldest first: a Map keeps insertion order, and a trimmed agent's next ack goes to the end.
    const trims = [...this.#trims].slice(0, agents);
    for (const [agentId] of trims) this.#trims.delete(agentId);
    this.#events.tx(() => {
      for (const [agentId, seq] of trims) this.store.trimEvents(agentId, seq);
    });
    if (this.#trims.size > 0) this.#trimTimer = setTimeout(() => this.#trimSome(TRIM_AGENTS), TRIM_EVERY_MS);
  }

  // -- conversations from channels and the HTTP API ------------------------------

  createConversation(input: NewConversation): ConversationRecord {
    return this.#conversations.create(input);
  }

  receiveInbound(inbound: InboundMessage): { conversationId: string; duplicate: boolean } {
    return this.#conversations.receiveInbound(inbound);
  }

  /** A message from the customer (or the bot) side of a conversation. */
  postMessage(conversationId: string, text: string, from: 'customer' | 'bot' | 'system' = 'customer', media?: Media[]): Message {
    return this.#conversations.post(conversationId, text, from, media);
  }

  /** The customer left, or a channel closed the conversation. */
  endByCustomer(conversationId: string): void {
    this.#conversations.endByCustomer(conversationId);
  }

  /** Listens to what happens in one conversation (the customer's side: web chat). */
  watch(conversationId: string, listener: (update: ConversationUpdate) => void): () => void {
    return this.#conversations.watch(conversationId, listener);
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

  // -- routing --------------------------------------------------------------------

  /**
   * Hands each waiting conversation, longest waiting first, to an available
   * agent with room, as routing.ts chooses: assigned outright or offered.
   * When nobody may have an offer yet (cool-down), it tries again then.
   */
  dispatch(): void {
    const waiting = this.store.waitingConversations();
    if (waiting.length === 0) return;
    const available = this.#links.available();
    if (available.size === 0) return;
    const now = this.#now();
    let retryAt = Infinity;
    // Loads are read once and kept up to date here as work goes out; the agents with room are
    // kept between runs until loads are read again or who is available changes.
    const all = (this.#agents ??= this.store.agentsWithLoad());
    const kept = this.#candidates;
    let candidates = kept && kept.from === all && kept.version === this.#links.version ? kept.list : all.filter((a) => available.has(a.id) && a.load < a.capacity);
    for (const conversation of waiting) {
      if (candidates.length === 0) break;
      const mode = this.routing[conversation.scenario].mode;
      const tried = mode === 'offer' ? this.store.offeredAgents(conversation.id) : new Map<string, number>();
      // An agent with queues takes only those queues' conversations; one without takes any.
      const queue = conversation.queue;
      const eligible = queue && candidates.some((a) => a.queues) ? candidates.filter((a) => !a.queues || a.queues.includes(queue)) : candidates;
      if (eligible.length === 0) continue;
      const pick = pickAgent(mode, eligible, tried, now, this.reofferCooldownMs);
      if ('retryAt' in pick) {
        retryAt = Math.min(retryAt, pick.retryAt);
        continue;
      }
      if (mode === 'assign') this.#offers.assign(conversation, pick.agent);
      else this.#offers.offer(conversation, pick.agent);
      pick.agent.load++;
      pick.agent.lastWorkAt = now;
      if (pick.agent.load >= pick.agent.capacity) candidates = candidates.filter((a) => a !== pick.agent);
    }
    this.#candidates = { from: all, version: this.#links.version, list: candidates };
    if (retryAt < Infinity) {
      clearTimeout(this.#retry);
      this.#retry = setTimeout(() => this.dispatch(), Math.max(0, retryAt - now));
    }
  }
}
